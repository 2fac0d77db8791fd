"""WeCube-style plugin registry, plugin calls, approvals, monitoring and capacity for Airflow 3.

Kept import-light: DAG files import this package at parse time.
"""

__version__ = "0.1.0"
