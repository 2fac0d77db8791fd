"""`make cluster` runs with docker-compose.yaml's settings (scripts/cluster_env.py maps them to this
machine): every setting of the compose file reaches the cluster, none names a container, and the
ports stay clear of `make demo` and of the tests."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from airflow.sdk import Connection

REPO = Path(__file__).resolve().parents[3]
SECRETS = {
    "POSTGRES_PASSWORD": "pg-pw",
    "REDIS_PASSWORD": "redis-pw",
    "SANDBOX_TOKEN": "sb-token",
    "FERNET_KEY": "fernet",
    "JWT_SECRET": "jwt",
    "API_SECRET_KEY": "api",
    "ALERTMANAGER_SECRET": "am-secret",
}


def load():
    spec = importlib.util.spec_from_file_location("cluster_env", REPO / "scripts" / "cluster_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def env():
    from tests.unit.deploy.test_docker_compose import common_env

    cluster_env = load()
    return cluster_env, cluster_env.settings(Path("/c"), SECRETS), common_env()


def test_every_compose_setting_reaches_the_cluster(env):
    cluster_env, cluster, compose = env
    # AIRFLOW_CONFIG points at the compose's shared config volume; each cluster component has its own home
    assert set(compose) - {"AIRFLOW_CONFIG"} <= set(cluster)
    for name, value in compose.items():
        if name not in cluster_env.MAPPED and not any(k in value for k in [*cluster_env.HOSTS, *cluster_env.FOLDERS]):
            assert cluster[name] == value, name  # taken as it is


def test_nothing_names_a_container(env):
    _, cluster, _ = env
    for name, value in cluster.items():
        assert not re.search(r"/opt/|//(postgres|redis|sandbox|airflow-apiserver)\b|@(postgres|redis)\b", value), name


def test_one_secret_set_for_every_component(env):
    _, cluster, _ = env
    assert cluster["AIRFLOW__CORE__FERNET_KEY"] == "fernet"
    assert cluster["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt"
    db = urlsplit(cluster["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (db.hostname, db.port, db.password, db.path) == ("127.0.0.1", 28432, "pg-pw", "/airflow")
    broker = urlsplit(cluster["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port, broker.password) == ("redis", "127.0.0.1", 28379, "redis-pw")
    assert cluster["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_connections_reach_the_cluster_sandbox_and_prometheus(env):
    _, cluster, _ = env
    wecube = Connection.from_json(cluster["AIRFLOW_CONN_WECUBE_DEFAULT"], conn_id="wecube_default")
    assert (wecube.host, wecube.password) == ("http://127.0.0.1:29090", "sb-token")
    prom = Connection.from_json(cluster["AIRFLOW_CONN_PROMETHEUS_DEFAULT"], conn_id="prometheus_default")
    assert prom.host == "http://127.0.0.1:29091"
    assert prom.extra_dejson["file_sd_dir"] == cluster["AIRFLOW__WECUBE__FILE_SD_DIR"] == "/c/shared/prometheus/file_sd"
    assert cluster["WECUBE_REGISTRY_PATH"] == "/c/shared/wecube_plugins"
    am = Connection.from_json(cluster["AIRFLOW_CONN_ALERTMANAGER_DEFAULT"], conn_id="alertmanager_default")
    assert (am.host, am.password) == ("http://127.0.0.1:29093", "am-secret")


def test_heartbeat_timeout_is_short_and_documented(env):
    _, cluster, _ = env
    timeout = int(cluster["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"])
    assert 10 <= timeout <= 120
    assert f"{timeout} s" in (REPO / "docs" / "cluster.md").read_text()


def test_ports_clear_of_make_demo_and_the_tests(env):
    cluster_env, _, _ = env
    ports = cluster_env.PORTS
    fixed = [v for k, v in ports.items() if k != "CLUSTER_APP_PORT_BASE"]
    assert len(set(fixed)) == len(fixed)
    demo = {8080, 9090, 19090, 8793, 8794}  # make demo: Airflow, Prometheus, sandbox, log servers
    assert not demo & set(fixed)
    # below the apps of the test sandbox (25000+), of the demo's (20000+), of the cluster's own and of the
    # kernel's ephemeral ports (32768+, where the tests' free ports come from)
    assert all(28000 <= p < ports["CLUSTER_APP_PORT_BASE"] < 32768 for p in fixed)


def test_a_container_name_left_unmapped_fails_loudly(env, monkeypatch, tmp_path):
    cluster_env, _, _ = env
    compose = tmp_path / "docker-compose.yaml"
    compose.write_text("x-airflow-common:\n  environment:\n    AIRFLOW__NEW__URL: http://redis:6379/1\n")
    monkeypatch.setattr(cluster_env, "COMPOSE", compose)
    with pytest.raises(SystemExit, match="AIRFLOW__NEW__URL.*names a container; map it in scripts/cluster_env.py"):
        cluster_env.settings(Path("/c"), SECRETS)


def test_async_plugins_call_back_the_clusters_api_server(env):
    """Issue 25 item 5: without a callback base URL every taskman call failed at once."""
    _, cluster, _ = env
    url = urlsplit(cluster["AIRFLOW__WECUBE__CALLBACK_BASE_URL"])
    assert (url.scheme, url.hostname, url.port) == ("http", "localhost", int(cluster["AIRFLOW__API__PORT"]))
