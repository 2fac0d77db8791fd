"""Airflow UI plugin: the WeCube page and JSON endpoints."""
