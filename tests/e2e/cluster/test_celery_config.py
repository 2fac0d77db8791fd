"""The Celery settings of the cluster layout import with the Celery provider that `make cluster`
installs (the `cluster` extra), which `make test`'s environment does not have: so this runs with
`make test-cluster`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.compose import SECRETS, common_env, load_cluster_env

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def env():
    cluster_env = load_cluster_env()
    return cluster_env, cluster_env.settings(Path("/c"), SECRETS), common_env()


def test_broker_outage_settings_are_importable_and_outlast_the_operation_timeout(env):
    """A publish to a Redis that is down must end in Airflow's timeout (retried next loop), not fail fast."""
    from importlib import import_module

    _, cluster, compose = env
    assert cluster["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] == compose["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"]
    module, _, name = cluster["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    config = getattr(import_module(module), name)
    policy = config["task_publish_retry_policy"]
    assert policy["max_retries"] * policy["interval_max"] > 60
    assert int(cluster["AIRFLOW__CELERY__TASK_PUBLISH_MAX_RETRIES"]) >= 30
