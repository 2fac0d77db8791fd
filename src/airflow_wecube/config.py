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
