"""docker-compose.yaml, deploy/Dockerfile, deploy/prometheus/prometheus.yml and
deploy/alertmanager/alertmanager.yml are consistent with each other, with the provider and with
``make demo`` (scripts/demo.sh).

No Docker engine runs here, so these tests read the files: the compose file with PyYAML (anchors and
merge keys resolved as Compose resolves them, ``${VAR:-default}`` interpolated with the defaults),
scripts/demo.sh's top-level assignments and the configs it writes, the Prometheus config checked
by ``promtool check config`` on a copy whose paths exist, the Alertmanager config by ``amtool check-config``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import tomllib
import yaml
from airflow.sdk import Connection
from packaging.requirements import Requirement

from airflow_wecube.get_provider_info import get_provider_info
from airflow_wecube.prometheus.settings import PrometheusSettings
from airflow_wecube.sandbox import TOKEN_ENV
from tests.fixtures.compose import INTERPOLATION, REPO, common_env, compose, env_of, interpolate, services

DOCKERFILE = REPO / "deploy" / "Dockerfile"
PROMETHEUS_YML = REPO / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
DEMO_SH = REPO / "scripts" / "demo.sh"
DEMO_LIB = REPO / "scripts" / "demo-lib.sh"
PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
AMTOOL = shutil.which("amtool") or ("/usr/bin/amtool" if Path("/usr/bin/amtool").exists() else None)

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "prometheus", "alertmanager", "sandbox"}
# demo.sh settings that only make sense on one machine: compose uses the image's defaults
# (AIRFLOW_HOME /opt/airflow, DAGs mounted at /opt/airflow/dags, api-server on 8080 on every address of
# its container, the log servers on 8793/8794 of each container)
DEMO_ONLY = {
    "AIRFLOW_HOME",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__HOST",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
}


def mounts(name: str) -> dict[str, str]:
    """``{target: source}`` of a service's volumes (short syntax)."""
    result = {}
    for entry in services()[name].get("volumes", []):
        assert isinstance(entry, str), f"{name}: use the short volume syntax, got {entry!r}"
        source, target, *_ = interpolate(entry).split(":")
        result[target] = source
    return result


def command_args(name: str) -> list[str]:
    command = services()[name].get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def option(args: list[str], flag: str) -> str:
    """The value of ``--flag=value`` or ``--flag value`` in ``args``."""
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag:
            return args[i + 1]
    raise AssertionError(f"{flag} not in {args}")


def conn(conn_id: str, env: dict[str, str] | None = None) -> Connection:
    env = common_env() if env is None else env
    raw = env[f"AIRFLOW_CONN_{conn_id.upper()}"]
    data = json.loads(raw)  # a JSON connection, not a URI
    assert isinstance(data, dict) and data.get("conn_type"), raw
    return Connection.from_json(raw, conn_id=conn_id)


def demo_lines() -> list[str]:
    """scripts/demo.sh's own lines: the bodies of its heredocs (files it writes, inline Python) left out."""
    lines, heredoc_end = [], None
    for line in DEMO_SH.read_text().splitlines():
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        heredoc = re.search(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?", line)
        if heredoc:
            heredoc_end = heredoc.group(1)
            continue
        lines.append(line)
    return lines


@cache
def demo() -> dict[str, str]:
    """scripts/demo.sh's top-level ``[export] NAME=VALUE`` assignments, expanded as bash would with
    nothing set in the environment (``${X:-default}`` gives the default), REPO=/repo."""
    values: dict[str, str] = {"REPO": "/repo"}
    assignment = re.compile(r"^(?:export )?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    for line in demo_lines():
        match = assignment.match(line)
        if not match or "$(" in match.group(2):
            continue
        name, raw = match.groups()
        words = shlex.split(raw)
        if len(words) != 1:
            continue
        values[name] = expand(words[0], values)
    return values


def expand(text: str, values: dict[str, str]) -> str:
    def repl(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$$"
        name = match.group(1) or match.group(3)
        if match.group(2) is not None and match.group(1):
            return expand(match.group(2), values)
        return values.get(name, "")

    return INTERPOLATION.sub(repl, text)


def demo_prometheus_config() -> str:
    """The prometheus.yml that scripts/demo.sh writes, expanded for the default ports."""
    text = DEMO_SH.read_text()
    match = re.search(r'cat >"\$PROM/prometheus\.yml\.tmp" <<EOF\n(.*?)\nEOF\n', text, re.DOTALL)
    assert match, "scripts/demo.sh no longer writes .demo/prometheus/prometheus.yml from a heredoc"
    return expand(match.group(1), {**demo(), "PROM": "/repo/.demo/prometheus"})


def as_bool(value: str) -> bool:
    assert value.lower() in {"true", "false"}, value
    return value.lower() == "true"


# ---- services, image, common settings -------------------------------------------------------------


def test_required_services_exist_and_each_has_an_image_or_build():
    assert REQUIRED_SERVICES <= set(services()), REQUIRED_SERVICES - set(services())
    for name, service in services().items():
        assert service.get("image") or service.get("build"), f"service {name} has neither image nor build"


def test_airflow_services_share_the_image_built_from_deploy_dockerfile_and_the_common_env():
    common = compose()["x-airflow-common"]
    assert common["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    for name in AIRFLOW_SERVICES:
        service = services()[name]
        assert service["image"] == common["image"], name
        assert service["build"] == common["build"], name
        env = env_of(name)
        missing = {k: v for k, v in common_env().items() if env.get(k) != v}
        assert not missing, f"{name} lacks or overrides common settings: {sorted(missing)}"
        assert service["user"] == common["user"] or name == "airflow-init", name
    # the sandbox runs from the same image (the provider ships it)
    assert services()["sandbox"]["image"] == common["image"]
    assert services()["sandbox"]["build"] == common["build"]


def test_celery_layout_commands():
    expected = {
        "airflow-apiserver": ["api-server"],
        "airflow-scheduler": ["scheduler"],
        "airflow-dag-processor": ["dag-processor"],
        "airflow-triggerer": ["triggerer"],
        "airflow-worker": ["celery", "worker"],
    }
    for name, command in expected.items():
        assert command_args(name) == command, name
    env = common_env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")


def test_healthchecks_and_depends_on():
    for name, service in services().items():
        if name != "airflow-init":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services(), f"{name} depends on unknown service {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert services()[dependency].get("healthcheck"), f"{name} waits for {dependency}'s health: it has none"
            elif condition == "service_completed_successfully":
                assert dependency == "airflow-init", f"{name} waits for {dependency} to complete"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        depends = services()[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
    # tasks call the sandbox and Prometheus: the worker starts once both answer
    worker = services()["airflow-worker"]["depends_on"]
    assert worker["sandbox"]["condition"] == worker["prometheus"]["condition"] == "service_healthy"


def test_execution_api_url_points_at_the_api_server():
    url = urlsplit(common_env()["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver"
    assert url.path == "/execution/"
    published = [interpolate(p).split(":") for p in services()["airflow-apiserver"]["ports"]]
    assert str(url.port) in {container for *_, container in published}
    assert str(url.port) in services()["airflow-apiserver"]["healthcheck"]["test"][-1]


# ---- provider settings ------------------------------------------------------------------------------


#: options the compose layout leaves unset on purpose: what they fall back to is right there
UNSET_ON_PURPOSE = {
    "callback_base_url": "[api] base_url",
    "network_design": "designs/network.yml in the mounted DAGs folder",
    "reconcile_strategies": "designs/strategies.yml in the mounted DAGs folder",
    "reconcile_schedule": "every 10 minutes",
}


def test_every_wecube_config_option_and_env_var_the_provider_reads_is_set():
    """Every option without a default is set (the folders every component must share); options with a
    default may be set to show it."""
    env = common_env()
    for key, option in get_provider_info()["config"]["wecube"]["options"].items():
        if key in ("registry_path", "processes_path"):  # config reads WECUBE_<KEY> first (as make demo sets it)
            assert env.get(f"WECUBE_{key.upper()}") or env.get(f"AIRFLOW__WECUBE__{key.upper()}")
        elif option["default"] is None and key not in UNSET_ON_PURPOSE:
            assert env.get(f"AIRFLOW__WECUBE__{key.upper()}"), f"[wecube] {key} not set in x-airflow-common"
    assert env_of("sandbox")[TOKEN_ENV] == env[TOKEN_ENV]


def test_async_plugins_call_back_the_api_server_in_compose_and_demo():
    """Issue 25 item 5: neither set the callback base URL, so every taskman call failed at once."""
    from airflow_wecube.callbacks.tokens import base_problem

    url = common_env()["AIRFLOW__WECUBE__CALLBACK_BASE_URL"]
    assert base_problem(url) is None
    published = [interpolate(p).split(":") for p in services()["airflow-apiserver"]["ports"]]
    assert urlsplit(url).hostname == "airflow-apiserver"
    assert str(urlsplit(url).port) in {container for *_, container in published}
    assert demo()["AIRFLOW__WECUBE__CALLBACK_BASE_URL"] == demo()["AIRFLOW_URL"] == "http://localhost:8080"


def test_the_demos_airflow_listens_on_loopback_and_its_log_servers_have_port_settings():
    """Issue 25 item 10: the API server listened on 0.0.0.0; the log servers had no settings."""
    d = demo()
    assert d["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert (d["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"], d["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]) == (
        "8793",
        "8794",
    )


def test_connections_are_json_with_provider_connection_types():
    known = {c["connection-type"] for c in get_provider_info()["connection-types"]}
    ids = {k[len("AIRFLOW_CONN_") :].lower() for k in common_env() if k.startswith("AIRFLOW_CONN_")}
    assert ids == {"wecube_default", "prometheus_default", "alertmanager_default"}
    assert conn("wecube_default").conn_type == "wecube"
    assert conn("prometheus_default").conn_type == "prometheus"
    assert conn("alertmanager_default").conn_type == "alertmanager"
    assert {conn(i).conn_type for i in ids} <= known


def test_wecube_connection_reaches_the_sandbox_with_its_token():
    wecube = conn("wecube_default")
    url = urlsplit(wecube.host)
    assert url.hostname == "sandbox"
    args = command_args("sandbox")
    assert args[:3] == ["python", "-m", "airflow_wecube.sandbox"]
    assert option(args, "--host") == "0.0.0.0"
    assert int(option(args, "--port")) == url.port
    assert wecube.password == env_of("sandbox")[TOKEN_ENV] == common_env()[TOKEN_ENV]
    assert str(url.port) in " ".join(services()["sandbox"]["healthcheck"]["test"])


def test_prometheus_connection_reaches_prometheus_with_lifecycle_api():
    settings = PrometheusSettings.from_connection(conn("prometheus_default"))
    url = urlsplit(settings.url)
    prometheus = services()["prometheus"]
    args = command_args("prometheus")
    assert "--web.enable-lifecycle" in args
    assert option(args, "--web.listen-address").rsplit(":", 1)[1] == str(url.port)
    network_mode = prometheus.get("network_mode", "")
    if network_mode.startswith("service:"):
        # Prometheus lives in another service's network namespace: reach it there, publish its port there
        owner = network_mode.split(":", 1)[1]
        assert url.hostname == owner
        assert "ports" not in prometheus, "a service in another's network namespace cannot publish ports"
        published = [interpolate(p).split(":") for p in services()[owner]["ports"]]
        assert str(url.port) in {container for *_, container in published}
        assert prometheus["depends_on"][owner]["condition"] == "service_healthy"
    else:
        assert url.hostname == "prometheus"


def test_file_sd_and_rules_volumes_shared_by_workers_and_prometheus_at_the_configured_paths():
    settings = PrometheusSettings.from_connection(conn("prometheus_default"))
    env = common_env()
    assert settings.file_sd_dir == env["AIRFLOW__WECUBE__FILE_SD_DIR"]
    assert settings.rules_dir == env["AIRFLOW__WECUBE__RULES_DIR"]
    named = set(compose()["volumes"])

    prometheus_mounts = mounts("prometheus")
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config_path = option(command_args("prometheus"), "--config.file")
    assert REPO / prometheus_mounts[config_path] == PROMETHEUS_YML
    file_sd_globs = [
        f for job in config["scrape_configs"] for sd in job.get("file_sd_configs", []) for f in sd["files"]
    ]
    assert len(file_sd_globs) == 1 and PurePosixPath(file_sd_globs[0]).name == "*.json"
    assert len(config["rule_files"]) == 1 and PurePosixPath(config["rule_files"][0]).name == "*.yml"
    prometheus_dirs = {
        "file_sd": str(PurePosixPath(file_sd_globs[0]).parent),
        "rules": str(PurePosixPath(config["rule_files"][0]).parent),
    }
    task_dirs = {"file_sd": settings.file_sd_dir, "rules": settings.rules_dir}

    workers = [n for n in services() if command_args(n)[:2] == ["celery", "worker"]]
    assert workers, "no Celery worker"
    for kind in ("file_sd", "rules"):
        volume = prometheus_mounts.get(prometheus_dirs[kind])
        assert volume in named, f"prometheus.yml reads {prometheus_dirs[kind]}, not a named volume in prometheus"
        # every Airflow service (workers run tasks; the others may run them too, e.g. dag.test)
        for name in sorted(AIRFLOW_SERVICES | set(workers)):
            assert mounts(name).get(task_dirs[kind]) == volume, f"{name} does not mount {volume} at {task_dirs[kind]}"


def test_registry_and_capacity_store_on_shared_volumes():
    env = common_env()
    named = set(compose()["volumes"])
    for path in (env["WECUBE_REGISTRY_PATH"], env["AIRFLOW__WECUBE__CAPACITY_STORE"]):
        for name in AIRFLOW_SERVICES:
            assert mounts(name).get(path) in named, f"{name} does not mount a named volume at {path}"
    assert mounts("sandbox").get(option(command_args("sandbox"), "--db").rsplit("/", 1)[0]) in named


def test_airflow_init_migrates_and_registers_the_sandbox_manifests():
    init = services()["airflow-init"]
    assert init["entrypoint"] == "/bin/bash"
    assert as_bool(env_of("airflow-init")["_AIRFLOW_DB_MIGRATE"])
    script = interpolate(command_args("airflow-init")[-1])
    assert "from airflow_wecube.sandbox import manifest_paths" in script
    register = re.search(r"wecube plugins register (.*)", script)
    assert register, "airflow-init does not run `wecube plugins register`"
    args = shlex.split(register.group(1))
    assert "--replace" in args
    assert option(args, "--registry") in (
        "${WECUBE_REGISTRY_PATH}",
        "$WECUBE_REGISTRY_PATH",
        common_env()["WECUBE_REGISTRY_PATH"],
    )
    assert "airflow config list" in script  # the shared config file with the generated jwt_secret
    syntax = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr


# ---- the same settings as make demo -----------------------------------------------------------------


def test_same_settings_as_make_demo():
    d, env = demo(), common_env()
    exported = {
        name
        for name in re.findall(r"^export ([A-Z_][A-Z0-9_]*)=", "\n".join(demo_lines()), re.MULTILINE)
        if name not in DEMO_ONLY
    }
    assert exported, "no exports parsed from scripts/demo.sh"
    assert exported <= set(env), f"set by make demo, missing in docker-compose.yaml: {sorted(exported - set(env))}"
    assert env["AIRFLOW__CORE__PARALLELISM"] == d["AIRFLOW__CORE__PARALLELISM"]
    assert as_bool(env["AIRFLOW__CORE__LOAD_EXAMPLES"]) == as_bool(d["AIRFLOW__CORE__LOAD_EXAMPLES"])
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == d["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert env[TOKEN_ENV] == d[TOKEN_ENV] == d["SANDBOX_TOKEN"]
    # folders: the same names (their parents are .demo/ on one machine, /opt/wecube/ in compose)
    for name in (
        "WECUBE_REGISTRY_PATH",
        "WECUBE_PROCESSES_PATH",
        "AIRFLOW__WECUBE__FILE_SD_DIR",
        "AIRFLOW__WECUBE__RULES_DIR",
        "AIRFLOW__WECUBE__CAPACITY_STORE",
    ):
        assert PurePosixPath(env[name]).name == PurePosixPath(d[name]).name, name
    # ports of the sandbox and Prometheus, and the execution API path
    assert urlsplit(conn("wecube_default").host).port == int(d["SANDBOX_PORT"]) == urlsplit(d["SANDBOX_URL"]).port
    assert urlsplit(conn("prometheus_default").host).port == int(d["PROMETHEUS_PORT"])
    assert (
        urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
        == urlsplit(d["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
    )
    assert urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).port == int(d["AIRFLOW_PORT"])


def demo_env_file(password: str) -> str:
    """The .demo/env that scripts/demo.sh writes, expanded for the default ports and ``password``."""
    match = re.search(r'cat >"\$DEMO/env\.tmp" <<EOF\n(.*?)\nEOF\n', DEMO_SH.read_text(), re.DOTALL)
    assert match, "scripts/demo.sh no longer writes .demo/env from a heredoc"
    return (
        expand(
            match.group(1),
            {**demo(), "DEMO": "/repo/.demo", "PROM": "/repo/.demo/prometheus", "AIRFLOW_PASSWORD": password},
        )
        + "\n"
    )


def test_demo_env_exports_the_airflow_client_settings(tmp_path: Path):
    """``. .demo/env && wecube approvals list``: sourcing the file exports what AirflowClient.from_env reads."""
    env_file = tmp_path / "env"
    env_file.write_text(demo_env_file("s3cret"))
    probe = (
        "import os\n"
        "from airflow_wecube.util.airflow_api import ENV_PASSWORD, AirflowClient\n"
        "c = AirflowClient.from_env()\n"
        "print(c.url, c.username, os.environ[ENV_PASSWORD] == 's3cret', sep='\\n')\n"
    )
    # a clean environment: only what the sourced file exports reaches the child process
    proc = subprocess.run(
        ["bash", "-c", '. "$1" && exec "$2" -c "$3"', "bash", str(env_file), sys.executable, probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [demo()["AIRFLOW_URL"], "admin", "True"]
    # the plain settings are there too, with the same values
    plain = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("export "))
    assert plain["AIRFLOW_URL"] == demo()["AIRFLOW_URL"] and plain["AIRFLOW_USER"] == "admin"
    assert plain["AIRFLOW_PASSWORD"] == "s3cret"


def test_same_connections_as_make_demo():
    # demo.sh sets them with demo_connections from scripts/demo-lib.sh (a JSON file for
    # `airflow connections import --overwrite`)
    assert re.search(r"^demo_connections ", DEMO_SH.read_text(), re.MULTILINE)
    text = DEMO_LIB.read_text()
    demo_conns = dict(re.findall(r'"(\w+)"\]?\s*[:=]\s*\{\s*"conn_type": "(\w+)"', text))
    assert demo_conns == {
        "wecube_default": "wecube",
        "prometheus_default": "prometheus",
        "alertmanager_default": "alertmanager",
    }
    for conn_id, conn_type in demo_conns.items():
        assert conn(conn_id).conn_type == conn_type
    # the demo's prometheus_default extras name the same keys
    extra = re.search(r'"extra": (\{[^}]*\})', text)
    assert extra, "scripts/demo-lib.sh no longer gives prometheus_default its extras"
    extra_keys = set(re.findall(r'"(\w+)":', extra.group(1)))
    assert extra_keys == set(conn("prometheus_default").extra_dejson) == {"file_sd_dir", "rules_dir"}


def test_prometheus_config_has_the_same_jobs_as_the_demo():
    demo_config = yaml.safe_load(demo_prometheus_config())
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert config["global"] == demo_config["global"]
    assert [j["job_name"] for j in config["scrape_configs"]] == [j["job_name"] for j in demo_config["scrape_configs"]]
    demo_dirs = {PurePosixPath(p).parent.name for p in demo_config["rule_files"]}
    assert demo_dirs == {PurePosixPath(p).parent.name for p in config["rule_files"]} == {"rules"}


def _relocated(config: dict, root: Path) -> dict:
    """``config`` with its rule and file_sd globs moved under ``root`` (folders created, one file each)."""
    (root / "rules").mkdir()
    (root / "file_sd").mkdir()
    (root / "rules" / "demo.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "demo", "rules": [{"alert": "Down", "expr": "up == 0", "for": "1m"}]}]})
    )
    (root / "file_sd" / "demo.json").write_text(
        json.dumps([{"targets": ["127.0.0.1:9100"], "labels": {"job": "demo"}}])
    )
    config = json.loads(json.dumps(config))
    config["rule_files"] = [str(root / "rules" / PurePosixPath(p).name) for p in config["rule_files"]]
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(root / "file_sd" / PurePosixPath(f).name) for f in sd["files"]]
    return config


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (make test installs it)")
@pytest.mark.parametrize("which", ["deploy/prometheus/prometheus.yml", "make demo"])
def test_promtool_accepts_the_prometheus_config(tmp_path: Path, which: str):
    text = PROMETHEUS_YML.read_text() if which.startswith("deploy") else demo_prometheus_config()
    config = _relocated(yaml.safe_load(text), tmp_path)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = subprocess.run([PROMTOOL, "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 rules found" in proc.stdout + proc.stderr


# ---- the image ----------------------------------------------------------------------------------------


def dockerfile_lines() -> list[str]:
    """Instructions of deploy/Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_builds_on_airflow_3_3_2_with_the_provider_and_promtool():
    lines = dockerfile_lines()
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert froms == ["apache/airflow:3.3.2"]
    # the provider's own requirement admits the image's Airflow (pip would otherwise replace it)
    deps = [Requirement(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
    airflow = next(d for d in deps if d.name == "apache-airflow")
    assert airflow.specifier.contains(froms[0].split(":")[1]), airflow
    prometheus_image = services()["prometheus"]["image"]
    assert f"COPY --from={prometheus_image} /bin/promtool /usr/local/bin/promtool" in lines
    install = next(line for line in lines if line.startswith("RUN pip install"))
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install and "/opt/wecube-src" in install
    # the sandbox service runs from this image: the provider comes with its sandbox extra
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "sandbox" in extras and "sandbox" in services()
    assert '"/opt/wecube-src[sandbox]"' in install, "the image must install the provider with its sandbox extra"


def test_dockerfile_copies_what_the_package_build_needs_and_the_ignore_file_lets_it_through():
    copies = [line.split()[1:] for line in dockerfile_lines() if line.startswith("COPY ") and "--from=" not in line]
    sources = [s for words in copies for s in words[:-1] if not s.startswith("--")]
    assert set(sources) >= {"pyproject.toml", "src"}
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().split()
    for source in sources:
        assert (REPO / source).exists(), source
        assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} is excluded by Dockerfile.dockerignore"
    readme = re.search(r'^readme\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    if readme:  # setuptools needs the readme named in pyproject.toml
        assert readme.group(1) in sources


# ---- Alertmanager ---------------------------------------------------------------------------------


def demo_alertmanager_config() -> str:
    """The alertmanager.yml that scripts/demo.sh writes, expanded for the default ports."""
    match = re.search(r'cat >"\$AM/alertmanager\.yml\.tmp" <<EOF\n(.*?)\nEOF\n', DEMO_SH.read_text(), re.DOTALL)
    assert match, "scripts/demo.sh no longer writes .demo/alertmanager/alertmanager.yml from a heredoc"
    return expand(match.group(1), {**demo(), "AM": "/repo/.demo/alertmanager"})


def _webhook(config: dict) -> dict:
    (receiver,) = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    (webhook,) = receiver["webhook_configs"]
    return webhook


def test_alertmanager_routes_every_alert_to_the_webhook_with_the_secret():
    for config in (yaml.safe_load(ALERTMANAGER_YML.read_text()), yaml.safe_load(demo_alertmanager_config())):
        webhook = _webhook(config)
        assert urlsplit(webhook["url"]).path == "/wecube/alerts"
        assert webhook["send_resolved"] is True
        assert webhook["http_config"]["authorization"]["type"] == "Bearer"
        assert PurePosixPath(webhook["http_config"]["authorization"]["credentials_file"]).name == "webhook-secret"
        assert config["route"]["group_by"] == ["alertname"]
    # demo and compose: the same timings
    assert yaml.safe_load(ALERTMANAGER_YML.read_text())["route"] == yaml.safe_load(demo_alertmanager_config())["route"]
    # compose: the API server's port, the secret file written by the service from the connection's secret
    url = urlsplit(_webhook(yaml.safe_load(ALERTMANAGER_YML.read_text()))["url"])
    assert url.hostname == "airflow-apiserver"
    assert str(url.port) in {p.split(":")[-1] for p in services()["airflow-apiserver"]["ports"]}
    assert urlsplit(_webhook(yaml.safe_load(demo_alertmanager_config()))["url"]).port == int(demo()["AIRFLOW_PORT"])
    script = interpolate(command_args("alertmanager")[-1])
    secret_file = _webhook(yaml.safe_load(ALERTMANAGER_YML.read_text()))["http_config"]["authorization"]
    assert f"printf '%s' \"${{WECUBE_ALERTMANAGER_SECRET}}\" > {secret_file['credentials_file']}" in script
    assert env_of("alertmanager")["WECUBE_ALERTMANAGER_SECRET"] == conn("alertmanager_default").password


def test_alertmanager_service_runs_unclustered_with_the_config_and_the_connection_reaches_it():
    script = interpolate(command_args("alertmanager")[-1]).replace("\\\n", " ")
    args = shlex.split(script.split("exec ", 1)[1])
    assert option(args, "--cluster.listen-address") == ""
    config_path = option(args, "--config.file")
    assert REPO / mounts("alertmanager")[config_path] == ALERTMANAGER_YML
    assert mounts("alertmanager")[option(args, "--storage.path")] in set(compose()["volumes"])
    port = option(args, "--web.listen-address").rsplit(":", 1)[1]
    url = urlsplit(conn("alertmanager_default").host)
    assert url.hostname == "alertmanager" and str(url.port) == port
    assert port in " ".join(services()["alertmanager"]["healthcheck"]["test"])
    assert urlsplit(demo()["ALERTMANAGER_URL"]).port == int(demo()["ALERTMANAGER_PORT"])


def test_prometheus_sends_alerts_to_alertmanager_in_compose_and_demo():
    (compose_am,) = yaml.safe_load(PROMETHEUS_YML.read_text())["alerting"]["alertmanagers"]
    assert compose_am["static_configs"][0]["targets"] == [urlsplit(conn("alertmanager_default").host).netloc]
    (demo_am,) = yaml.safe_load(demo_prometheus_config())["alerting"]["alertmanagers"]
    assert demo_am["static_configs"][0]["targets"] == [f"127.0.0.1:{demo()['ALERTMANAGER_PORT']}"]


def test_demo_env_names_alertmanager():
    env = dict(line.split("=", 1) for line in demo_env_file("pw").splitlines() if not line.startswith("export "))
    assert env["ALERTMANAGER_URL"] == demo()["ALERTMANAGER_URL"]
    assert env["ALERTS_WEBHOOK_URL"] == demo()["AIRFLOW_URL"] + "/wecube/alerts"


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (make test installs prometheus-alertmanager)")
@pytest.mark.parametrize("which", ["deploy/alertmanager/alertmanager.yml", "make demo"])
def test_amtool_accepts_the_alertmanager_config(tmp_path: Path, which: str):
    config = yaml.safe_load(ALERTMANAGER_YML.read_text() if which.startswith("deploy") else demo_alertmanager_config())
    secret = tmp_path / "webhook-secret"
    secret.write_text("s3cret")
    _webhook(config)["http_config"]["authorization"]["credentials_file"] = str(secret)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
