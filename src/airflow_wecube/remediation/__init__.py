"""Runbooks: what an alert-started remediation decides, records and reports.

``alerts`` reads the alerts an Alertmanager webhook turned into Asset events; ``guard`` holds the
guard rails (kill switch, cooldown, "3 times within an hour", one remediation per target at a
time); ``report`` writes what the run did and why. No Airflow import in these three: the runbook
DAGs (``dags/wecube_remediate_instance.py``) wire them to Airflow. ``cmdb`` keeps each target's
history and lock in the CMDB through a plugin hook that the caller passes in.
"""
