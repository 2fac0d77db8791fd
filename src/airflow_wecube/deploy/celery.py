"""Celery settings of the CeleryExecutor layout (``[celery] celery_config_options``).

Airflow's defaults, plus a broker outage ridden out instead of failing tasks: handing a task to Redis
keeps retrying the connection (``task_publish_retry_policy``) until ``[celery] operation_timeout``
ends the attempt; the scheduler then tries again on its next loop, ``[celery]
task_publish_max_retries`` times (docker-compose.yaml sets 60: about a minute of outage) before
it fails the task. With Celery's own default (3 quick retries) a task queued while Redis restarts
failed at once. Imported by the scheduler and the workers only when configured.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {
    **DEFAULT_CELERY_CONFIG,
    "task_publish_retry_policy": {"max_retries": 1000, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
}
