"""The ``[wecube]`` settings: every option declared once (name, type, default, check), where things live.

Each option is read from Airflow's config (env ``AIRFLOW__WECUBE__<NAME>`` first, then airflow.cfg)
through :func:`get` (checked, typed, defaulted) or :func:`airflow_option` (the raw text). The provider
metadata's ``config`` section is built from :data:`OPTIONS` (:func:`provider_config`), so ``airflow
config list`` shows exactly what the code reads. Airflow is imported lazily so the CLI's pure
commands still work where Airflow is not configured.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def airflow_option(key: str) -> str | None:
    """``[wecube] key`` from Airflow's config (env ``AIRFLOW__WECUBE__KEY`` included), or None."""
    try:
        from airflow.sdk import conf  # reads AIRFLOW__WECUBE__<KEY> itself, before airflow.cfg

        return conf.get("wecube", key, fallback=None) or None
    except Exception:  # Airflow missing or not configured: fall back to defaults
        return None


#: defaults of connection extras ``deadline`` / ``max_response_bytes`` of the plugin and Prometheus
#: hooks (``[wecube] http_deadline`` / ``http_max_response_bytes``)
DEFAULT_HTTP_DEADLINE = 300.0
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


def _number(kind: type, *, minimum: float, above: bool = False, unit: str = "") -> Callable[[str], Any]:
    """A check: the text as ``kind`` (int or float), at least (or, ``above``, more than) ``minimum``."""
    what = f"a number{f' of {unit}' if unit else ''}"

    def check(raw: str) -> Any:
        try:
            value = kind(float(raw.strip())) if kind is int else kind(raw.strip())
        except ValueError:
            raise ValueError(f"must be {what}, got {raw!r}") from None
        if value < minimum or (above and value == minimum):
            raise ValueError(f"must be {'>' if above else '>='} {minimum:g}, got {raw!r}")
        return value

    return check


def _names(raw: str) -> list[str]:
    names = [t.strip() for t in raw.split(",") if t.strip()]
    if not names:
        raise ValueError(f"must name at least one, comma-separated, got {raw!r}")
    return names


def _text(raw: str) -> str:
    return raw.strip()


@dataclass(frozen=True)
class Option:
    """One ``[wecube]`` option. ``default`` is the text airflow.cfg would hold (None: unset, the
    description says what happens then); ``check`` turns the text into the value or raises ValueError."""

    name: str
    type: str  # the provider metadata's type: string, integer, float, boolean
    description: str
    default: str | None = None
    example: str | None = None
    check: Callable[[str], Any] = _text
    version_added: str = "0.1.0"


_SECONDS_ABOVE_0 = _number(float, minimum=0, above=True, unit="seconds")

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option(
            "registry_path",
            "string",
            "Folder of registered plugin manifests (env WECUBE_REGISTRY_PATH wins). "
            "Default: wecube_plugins/ in the DAGs folder.",
            example="/opt/airflow/dags/wecube_plugins",
        ),
        Option(
            "processes_path",
            "string",
            "Folder of imported WeCube processes, one JSON file per version (env WECUBE_PROCESSES_PATH "
            "wins). Default: wecube_processes/ in the DAGs folder.",
            example="/opt/airflow/dags/wecube_processes",
        ),
        Option("file_sd_dir", "string", "Default folder for Prometheus file_sd target files."),
        Option("rules_dir", "string", "Default folder for Prometheus rule files."),
        Option(
            "http_deadline",
            "float",
            "Seconds a plugin call or a Prometheus request may take in all (connect, send, the full answer; "
            "a plugin call's retries included), so a server that trickles bytes cannot hold a task. "
            "Connection extra 'deadline' wins.",
            default=f"{DEFAULT_HTTP_DEADLINE:g}",
            example="600",
            check=_SECONDS_ABOVE_0,
        ),
        Option(
            "http_max_response_bytes",
            "integer",
            "Largest answer accepted from a plugin or Prometheus (bytes, after decompression). "
            "Connection extra 'max_response_bytes' wins.",
            default=str(DEFAULT_MAX_RESPONSE_BYTES),
            example="268435456",
            check=_number(int, minimum=0, above=True, unit="bytes"),
        ),
        Option(
            "smtp_conn_id",
            "string",
            "SMTP connection that e-mails a capacity model's owners when it drifts "
            "(unless the DAG or operator sets explicit notifiers).",
            default="smtp_default",
            example="smtp_default",
        ),
        Option(
            "lock_dir",
            "string",
            "Folder of the lock files that serialise edits of Prometheus target and rule files (kept out of "
            "the folders Prometheus reads). Default: .wecube-locks beside each folder. Every worker must "
            "see the same folder.",
            example="/opt/wecube/locks",
        ),
        Option(
            "capacity_store",
            "string",
            "Where capacity model fits are stored (local path or object storage URL).",
            example="s3://bucket/capacity",
        ),
        Option(
            "resume_settle_seconds",
            "float",
            "Seconds after a task parks (defers, awaits input) before anything of ours resumes it: an answer "
            "to its HITL request is held, triggers hold their event. Works around an Airflow 3.3 race that "
            "fails tasks resumed sooner (docs/approvals.md).",
            default="10",
            example="10",
            check=_number(float, minimum=0, unit="seconds"),
        ),
        Option(
            "callback_base_url",
            "string",
            "Where plugins reach the Airflow API server to POST the result of an asynchronous call "
            "(docs/async-plugins.md). Default: [api] base_url.",
            example="https://airflow.example.com",
        ),
        Option(
            "callback_poll_seconds",
            "float",
            "Seconds between two looks of a deferred asynchronous call for its callback (at least 0.2).",
            default="2",
            example="5",
            check=_SECONDS_ABOVE_0,
        ),
        Option(
            "callback_retention_days",
            "float",
            "Days a callback registration and its answer are kept after the call's deadline.",
            default="7",
            example="30",
            check=_number(float, minimum=0, unit="days"),
        ),
        Option(
            "cmdb_query_service",
            "string",
            "The plugin service the CMDB pages query (package/plugin/action).",
            default="cmdb/ci/query",
            example="wecmdb/ci/query",
        ),
        Option(
            "cmdb_types",
            "string",
            "CI types the CMDB pages list, comma-separated.",
            default="data_center,vpc,subnet,route_table,security_group,host,app,app_instance",
            example="host,app,app_instance",
            check=_names,
        ),
        Option(
            "network_design",
            "string",
            "The network design file the designs page compares with the CMDB. "
            "Default: designs/network.yml in the DAGs folder (what wecube_network_build reads).",
            example="/opt/airflow/dags/designs/network.yml",
        ),
        Option(
            "reconcile_strategies",
            "string",
            "The reconcile strategies (kind x class -> action, docs/reconcile.md). "
            "Default: designs/strategies.yml in the DAGs folder.",
            example="/opt/airflow/dags/designs/strategies.yml",
        ),
        Option(
            "reconcile_schedule",
            "string",
            "When wecube_reconcile runs: a cron expression or preset, or none (only when triggered). "
            "Default: every 10 minutes.",
            example="@hourly",
        ),
    )
}
#: options named by a prefix: ``sysvar_<name>`` is the system variable ``<NAME>`` of plugin inputs
#: (``mappingType="system_variable"``) when no Airflow Variable ``wecube_sysvar_<NAME>`` sets it
OPTION_PREFIXES = ("sysvar_",)


def get(name: str) -> Any:
    """``[wecube] name``, checked and typed (its default when unset; None when it has none).

    :raises KeyError: ``name`` is not declared in :data:`OPTIONS`
    :raises ValueError: the value fails the option's check; the message names the option and how to set it
    """
    opt = OPTIONS[name]
    raw = airflow_option(name)
    if raw is None:
        raw = opt.default
    if raw is None:
        return None
    try:
        return opt.check(raw)
    except ValueError as e:
        raise ValueError(f"[wecube] {name} {e} (set AIRFLOW__WECUBE__{name.upper()} or airflow.cfg)") from None


def provider_config() -> dict[str, Any]:
    """The ``config`` section of the provider metadata, from :data:`OPTIONS`."""
    return {
        "wecube": {
            "description": "airflow-provider-wecube settings.",
            "options": {
                o.name: {
                    "description": o.description,
                    "version_added": o.version_added,
                    "type": o.type,
                    "example": o.example,
                    "default": o.default,
                }
                for o in OPTIONS.values()
            },
        }
    }


def http_limits(extra: dict, *, deadline=None, max_bytes=None) -> tuple[float, int]:
    """``(deadline seconds, max answer bytes)`` of an HTTP hook: explicit value, else connection
    extra (``deadline``, ``max_response_bytes``), else ``[wecube]`` (``http_deadline``,
    ``http_max_response_bytes``), else the default. ``ValueError`` names a setting that is not a
    number above 0."""

    def pick(value, key: str, option: str, default: float, cast):
        where = "argument"
        if value is None:
            value, where = extra.get(key), f"connection extra {key!r}"
        if value in (None, ""):
            value, where = airflow_option(option), f"[wecube] {option}"
        if value in (None, ""):
            return cast(default)
        try:
            number = cast(float(str(value).strip()))
        except ValueError:
            number = 0
        if isinstance(value, bool) or number <= 0:
            raise ValueError(f"{where} must be a number above 0 ({key}), got {value!r}")
        return number

    return (
        pick(deadline, "deadline", "http_deadline", DEFAULT_HTTP_DEADLINE, float),
        pick(max_bytes, "max_response_bytes", "http_max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES, int),
    )


def dags_folder() -> Path:
    env = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if env:
        return Path(env)
    try:
        from airflow.sdk import conf

        return Path(conf.get("core", "dags_folder"))
    except Exception:
        return Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "dags"


def registry_path(explicit: str | os.PathLike | None = None) -> Path:
    """The plugin registry folder: explicit, else ``$WECUBE_REGISTRY_PATH``, else
    ``[wecube] registry_path``, else ``wecube_plugins/`` in the DAGs folder (so it travels with the
    DAG bundle to every scheduler and worker)."""
    candidate = explicit or os.environ.get("WECUBE_REGISTRY_PATH") or airflow_option("registry_path")
    if candidate:
        return Path(candidate).expanduser()
    return dags_folder() / "wecube_plugins"


def processes_path(explicit: str | os.PathLike | None = None) -> Path:
    """The process store folder: explicit, else ``$WECUBE_PROCESSES_PATH``, else
    ``[wecube] processes_path``, else ``wecube_processes/`` in the DAGs folder (it travels with the
    DAG bundle, like the plugin registry)."""
    candidate = explicit or os.environ.get("WECUBE_PROCESSES_PATH") or airflow_option("processes_path")
    if candidate:
        return Path(candidate).expanduser()
    return dags_folder() / "wecube_processes"
