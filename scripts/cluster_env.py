"""The environment of every `make cluster` component, read from docker-compose.yaml (the one source).

    python scripts/cluster_env.py CLUSTER_DIR  ->  `export NAME=VALUE` lines for bash to eval

CLUSTER_DAGS_FOLDER (default dags/) and the CLUSTER_*_PORT variables of PORTS change the defaults.

The settings are docker-compose.yaml's ``x-airflow-common`` environment, each taken as it is except
what names a container: the hosts (postgres, redis, airflow-apiserver, sandbox) become loopback ports,
the folders under /opt/wecube and /opt/airflow become folders under CLUSTER_DIR, and the throwaway
credentials and secrets come from CLUSTER_DIR/secrets.env (written once by scripts/cluster.sh).
A setting added to the compose file reaches the cluster without an edit here; one that names a
container and is not mapped below fails here, loudly (tests/unit/deploy/test_cluster_env.py).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yaml"

#: ports of `make cluster` (a range of their own: `make demo` uses 8080, 9090, 19090, 20000+;
#: the tests free ports and 25000+ for the apps their sandbox deploys)
PORTS = {
    "CLUSTER_AIRFLOW_PORT": 28080,
    "CLUSTER_SANDBOX_PORT": 29090,
    "CLUSTER_PROMETHEUS_PORT": 29091,
    "CLUSTER_ALERTMANAGER_PORT": 29093,
    "CLUSTER_POSTGRES_PORT": 28432,
    "CLUSTER_REDIS_PORT": 28379,
    "CLUSTER_TRIGGER_LOG_PORT": 28795,
    "CLUSTER_APP_PORT_BASE": 30000,
}
#: settings of processes on one machine, not in the compose file (whose containers each have their own
#: file system, ports and host name)
CLUSTER_ONLY = {
    # every worker and the api-server read the task logs from one shared folder
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": "{cluster}/shared/logs",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "{CLUSTER_TRIGGER_LOG_PORT}",
    "AIRFLOW__API__PORT": "{CLUSTER_AIRFLOW_PORT}",
    "AIRFLOW__API__HOST": "127.0.0.1",
    "AIRFLOW__CORE__DAGS_FOLDER": "{dags}",
    "AIRFLOW__API_AUTH__JWT_SECRET": "{JWT_SECRET}",
    "AIRFLOW__API__SECRET_KEY": "{API_SECRET_KEY}",
    # each worker names itself (WECUBE_WORKER_HOSTNAME), so a task instance's hostname says which ran it
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_wecube.deploy.hostname.from_env",
    "WECUBE_SANDBOX_PORT_BASE": "{CLUSTER_APP_PORT_BASE}",
}
#: compose values that name a container, as `make cluster` has them on one machine
MAPPED = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:{POSTGRES_PASSWORD}@127.0.0.1:{CLUSTER_POSTGRES_PORT}/airflow",
    "AIRFLOW__CELERY__RESULT_BACKEND": "db+postgresql://airflow:{POSTGRES_PASSWORD}@127.0.0.1:{CLUSTER_POSTGRES_PORT}/airflow",
    "AIRFLOW__CELERY__BROKER_URL": "redis://:{REDIS_PASSWORD}@127.0.0.1:{CLUSTER_REDIS_PORT}/0",
    "AIRFLOW__CORE__FERNET_KEY": "{FERNET_KEY}",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://localhost:{CLUSTER_AIRFLOW_PORT}/execution/",
    "AIRFLOW__WECUBE__CALLBACK_BASE_URL": "http://localhost:{CLUSTER_AIRFLOW_PORT}",
    # each component has its own AIRFLOW_HOME (as each container has its own file system)
    "AIRFLOW_CONFIG": None,
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "{cluster}/shared/config/simple_auth_manager_passwords.json",
    "WECUBE_SANDBOX_TOKEN": "{SANDBOX_TOKEN}",
}
#: container host:port -> loopback, inside any value (the connections)
HOSTS = {
    "http://sandbox:19090": "http://127.0.0.1:{CLUSTER_SANDBOX_PORT}",
    "http://sandbox:9090": "http://127.0.0.1:{CLUSTER_PROMETHEUS_PORT}",
    "http://alertmanager:9093": "http://127.0.0.1:{CLUSTER_ALERTMANAGER_PORT}",
}
#: container folders -> cluster folders, inside any value
FOLDERS = {"/opt/wecube/": "{cluster}/shared/", "/opt/airflow/": "{cluster}/shared/"}
#: what must not be left in a value after the mapping
CONTAINER_NAMES = re.compile(r"/opt/|\b(postgres|redis|airflow-apiserver|sandbox|alertmanager):|@postgres\b|@redis\b")

_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose interpolation: the variable when set (the sandbox token), else its default."""

    def repl(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1)) or match.group(2) or ""

    return _INTERPOLATION.sub(repl, value)


def settings(
    cluster: Path, secrets: dict[str, str], ports: dict[str, int] | None = None, dags: Path | None = None
) -> dict[str, str]:
    """``{name: value}`` for every component of the cluster in ``cluster`` (DAGs from ``dags``, else dags/)."""
    values = {
        **{k: str(v) for k, v in (ports or PORTS).items()},
        **secrets,
        "cluster": str(cluster),
        "dags": str(dags or REPO / "dags"),
    }
    compose = yaml.safe_load(COMPOSE.read_text())
    common = compose["x-airflow-common"]["environment"]
    out: dict[str, str] = {}
    for name, raw in common.items():
        if name in MAPPED:
            if MAPPED[name] is not None:
                out[name] = MAPPED[name].format(**values)
            continue
        value = _interpolate(
            str(raw),
            {
                "WECUBE_SANDBOX_TOKEN": secrets["SANDBOX_TOKEN"],
                "WECUBE_ALERTMANAGER_SECRET": secrets.get("ALERTMANAGER_SECRET", ""),
            },
        )
        for old, new in {**HOSTS, **FOLDERS}.items():
            value = value.replace(old, new.format(**values))
        if CONTAINER_NAMES.search(value):
            raise SystemExit(
                f"cluster_env: docker-compose.yaml's {name}={value!r} names a container;"
                " map it in scripts/cluster_env.py"
            )
        out[name] = value
    for name, value in CLUSTER_ONLY.items():
        out[name] = value.format(**values)
    return out


def read_secrets(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def main(argv: list[str]) -> int:
    cluster = Path(argv[1]).resolve()
    ports = {k: int(os.environ.get(k) or v) for k, v in PORTS.items()}
    dags = Path(os.environ["CLUSTER_DAGS_FOLDER"]).resolve() if os.environ.get("CLUSTER_DAGS_FOLDER") else None
    env = settings(cluster, read_secrets(cluster / "secrets.env"), ports, dags)
    for name, value in {**{k: str(v) for k, v in ports.items()}, **env}.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
