"""Capacity models wired to Airflow: the store, Prometheus, notifiers and Assets.

Shared by the refit DAG, :class:`~airflow_wecube.operators.capacity.CapacityGateOperator` and
``wecube capacity``. The modelling itself is :mod:`airflow_wecube.capacity` (no Airflow there).
Airflow and the Prometheus hook are imported only inside the functions that need them, so the CLI
and DAG parsing do not load ``BaseOperator`` or the hook to list a model's versions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_wecube import config
from airflow_wecube.capacity.errors import SpecError, StoreError

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Asset, BaseNotifier, Context

    from airflow_wecube.capacity.spec import CapacitySpec
    from airflow_wecube.capacity.store import ModelStore

log = logging.getLogger(__name__)

ASSET_URI_SCHEME = "wecube-capacity"


def asset_uri(model: str) -> str:
    """URI of the Airflow Asset updated each time ``model`` gets a new accepted baseline."""
    return f"{ASSET_URI_SCHEME}://{model}"


def capacity_asset(model: str) -> Asset:
    """The Asset other DAGs schedule on to react to a new accepted ``model``: ``schedule=[capacity_asset("ledger_cpu")]``."""
    from airflow.sdk import Asset

    return Asset(name=f"wecube_capacity_{model}", uri=asset_uri(model), group="capacity")


def _dags_folder() -> Path:
    return config.dags_folder().expanduser()


def specs_folder(dags_folder: str | os.PathLike | None = None) -> Path:
    """Where spec YAML files live: ``$WECUBE_CAPACITY_SPECS``, else ``capacity/`` in the DAGs folder.

    :param dags_folder: the folder holding the DAG that asks (a DAG passes its own folder, so the
        specs travel with its bundle); default Airflow's ``[core] dags_folder``
    """
    base = Path(dags_folder) if dags_folder is not None else _dags_folder()
    return Path(os.environ.get("WECUBE_CAPACITY_SPECS") or base / "capacity")


def resolve_spec(spec: str | os.PathLike | dict | CapacitySpec) -> CapacitySpec:
    """A spec from a :class:`CapacitySpec`, a dict, a YAML path, or a model name in :func:`specs_folder`.

    A relative path that does not exist is looked up beside the DAGs.
    """
    from airflow_wecube.capacity.spec import CapacitySpec, load_spec

    if isinstance(spec, CapacitySpec):
        return spec
    if isinstance(spec, dict):
        return load_spec(spec)
    text = os.fspath(spec)
    if text.endswith((".yml", ".yaml")) or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_absolute() and not path.exists():
            path = _dags_folder() / path
        return load_spec(path)
    folder = specs_folder()
    for suffix in (".yml", ".yaml"):
        candidate = folder / f"{text}{suffix}"
        if candidate.exists():
            return load_spec(candidate)
    raise SpecError(f"no spec file for model {text!r} in {folder}")


def open_store(store: Any = None) -> ModelStore:
    """The model store at ``store`` (path, URL or ObjectStoragePath), else ``[wecube] capacity_store``.

    URLs other than ``file://`` become an ``ObjectStoragePath`` (its fsspec filesystem does the I/O);
    local paths stay plain paths so writes are atomic renames.
    """
    from airflow_wecube.capacity.store import ModelStore

    if store in (None, ""):
        store = config.airflow_option("capacity_store")
    if store in (None, ""):
        raise StoreError("no capacity store: pass one (--store / store=) or set [wecube] capacity_store")
    if hasattr(store, "fs"):  # an ObjectStoragePath already
        if getattr(store, "protocol", None) in ("file", "local", ""):
            return ModelStore(Path(store.path))
        return ModelStore(store)
    text = os.fspath(store)
    if "://" in text and not text.startswith("file://"):
        from airflow.sdk import ObjectStoragePath

        return ModelStore(ObjectStoragePath(text))
    return ModelStore(text)


def fetch_frame(spec: CapacitySpec, start: datetime, end: datetime, *, prometheus_conn_id: str = "prometheus_default"):
    """Range-query the spec's target and features into one aligned frame (one column per query)."""
    from airflow_wecube.hooks.prometheus import PrometheusHook

    hook = PrometheusHook(prometheus_conn_id=prometheus_conn_id)
    return hook.query_range_frame(spec.queries(), start, end, spec.step_td.total_seconds())


def publish_rules(spec: CapacitySpec, record: dict[str, Any], *, prometheus_conn_id: str = "prometheus_default") -> dict:
    """Write the model's recording rule and alert (group ``capacity_<model>``), reload, confirm loaded."""
    from airflow_wecube.capacity.rules import build_rules, rule_group_name
    from airflow_wecube.hooks.prometheus import PrometheusHook

    hook = PrometheusHook(prometheus_conn_id=prometheus_conn_id)
    return hook.apply_rule_group(rule_group_name(spec.name), build_rules(spec, record["fit"], version=record.get("version")))


def notify_drift(notifiers: Sequence[BaseNotifier] | None, context: Context | dict, report: dict[str, Any]) -> int:
    """Call each notifier with the task context plus ``capacity_report`` and ``capacity_drift``.

    A notifier that fails is logged and skipped, so one broken channel does not hide the drift from
    the others. Returns how many notifiers succeeded.
    """
    ok = 0
    ctx = dict(context)
    ctx["capacity_report"] = report
    ctx["capacity_drift"] = report.get("drift")
    for notifier in notifiers or ():
        try:
            notifier(ctx)
            ok += 1
        except Exception:
            log.exception("drift notifier %r failed", notifier)
    return ok


def drift_summary(report: dict[str, Any]) -> str:
    """The failure message of a drifted fit: the baseline, each drift finding, the new fit."""
    drift = report.get("drift") or {}
    lines = [f"capacity model {report['model']} drifted from baseline {drift.get('baseline_version')}:"]
    lines += [f"  - {m}" for m in drift.get("messages", [])]
    lines.append(f"  new fit {report['version']}: {report['formula']} (R² {report['r2']:.3f}, n={report['n']})")
    return "\n".join(lines)
