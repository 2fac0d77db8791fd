"""Where things live: ``[wecube]`` config with environment overrides.

Airflow is imported lazily so the CLI's pure commands still work where Airflow is not configured.
"""

from __future__ import annotations

import os
from pathlib import Path


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


def default_registry(explicit: str | os.PathLike | None = None):
    from airflow_wecube.registry import Registry

    return Registry(registry_path(explicit))


def processes_path(explicit: str | os.PathLike | None = None) -> Path:
    """The process store folder: explicit, else ``$WECUBE_PROCESSES_PATH``, else
    ``[wecube] processes_path``, else ``wecube_processes/`` in the DAGs folder (it travels with the
    DAG bundle, like the plugin registry)."""
    candidate = explicit or os.environ.get("WECUBE_PROCESSES_PATH") or airflow_option("processes_path")
    if candidate:
        return Path(candidate).expanduser()
    return dags_folder() / "wecube_processes"


def default_process_store(explicit: str | os.PathLike | None = None):
    from airflow_wecube.processes.store import ProcessStore

    return ProcessStore(processes_path(explicit))
