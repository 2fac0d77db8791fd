"""Alertmanager: its webhook payload (version 4), matchers and errors.

Pure: no Airflow import. The Airflow-facing parts are :mod:`airflow_wecube.hooks.alertmanager` (the
API) and :mod:`airflow_wecube.ui.alert_webhook` (the webhook receiver, ``POST /wecube/alerts``).
"""
