"""WeCube-style plugin registry, plugin calls, approvals, monitoring and capacity for Airflow 3.

Kept import-light: DAG files import this package at parse time.
"""

from airflow_wecube.compat.aliases import install as _install_aliases

__version__ = "0.1.0"

# the module paths before the regrouping (issue 26) keep working for one release, with a warning
_install_aliases()
