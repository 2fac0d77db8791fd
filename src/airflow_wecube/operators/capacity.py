"""Capacity models in Airflow: the release gate operator and the helpers the refit DAG and CLI share.

The modelling itself is :mod:`airflow_wecube.capacity` (no Airflow there); this module connects it
to Prometheus (through :class:`~airflow_wecube.hooks.prometheus.PrometheusHook`), to the store
(local path or ``ObjectStoragePath``) and to Airflow notifiers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.capacity.errors import SpecError, StoreError
from airflow_wecube.capacity.spec import CapacitySpec, load_spec, resolve_window

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import BaseNotifier, Context

    from airflow_wecube.capacity.store import ModelStore

ASSET_URI_SCHEME = "wecube-capacity"


def asset_uri(model: str) -> str:
    """URI of the Airflow Asset updated each time ``model`` gets a new accepted baseline."""
    return f"{ASSET_URI_SCHEME}://{model}"


def capacity_asset(model: str):
    """The Asset other DAGs schedule on to react to a new accepted ``model``: ``schedule=[capacity_asset("ledger_cpu")]``."""
    from airflow.sdk import Asset

    return Asset(name=f"wecube_capacity_{model}", uri=asset_uri(model), group="capacity")


def dags_folder() -> Path:
    return Path(conf.get("core", "dags_folder")).expanduser()


def specs_folder() -> Path:
    """Where spec YAML files live: ``$WECUBE_CAPACITY_SPECS``, else ``capacity/`` beside the DAGs."""
    return Path(os.environ.get("WECUBE_CAPACITY_SPECS") or dags_folder() / "capacity")


def resolve_spec(spec: str | os.PathLike | dict | CapacitySpec) -> CapacitySpec:
    """A spec from a :class:`CapacitySpec`, a dict, a YAML path, or a model name in :func:`specs_folder`.

    A relative path that does not exist is looked up beside the DAGs.
    """
    if isinstance(spec, CapacitySpec):
        return spec
    if isinstance(spec, dict):
        return load_spec(spec)
    text = os.fspath(spec)
    if text.endswith((".yml", ".yaml")) or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_absolute() and not path.exists():
            path = dags_folder() / path
        return load_spec(path)
    for suffix in (".yml", ".yaml"):
        candidate = specs_folder() / f"{text}{suffix}"
        if candidate.exists():
            return load_spec(candidate)
    raise SpecError(f"no spec file for model {text!r} in {specs_folder()}")


def open_store(store: Any = None) -> ModelStore:
    """The model store at ``store`` (path, URL or ObjectStoragePath), else ``[wecube] capacity_store``.

    URLs other than ``file://`` become an ``ObjectStoragePath`` (its fsspec filesystem does the I/O);
    local paths stay plain paths so writes are atomic renames.
    """
    from airflow_wecube.capacity.store import ModelStore

    if store in (None, ""):
        store = conf.get("wecube", "capacity_store", fallback=None)
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
    import logging

    log = logging.getLogger(__name__)
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
    drift = report.get("drift") or {}
    lines = [f"capacity model {report['model']} drifted from baseline {drift.get('baseline_version')}:"]
    lines += [f"  - {m}" for m in drift.get("messages", [])]
    lines.append(f"  new fit {report['version']}: {report['formula']} (R² {report['r2']:.3f}, n={report['n']})")
    return "\n".join(lines)


class CapacityGateOperator(BaseOperator):
    """Fit a capacity model over a release window (canary, stress test) and fail on drift.

    The fit is stored as a version (with its plot) so the evidence stays; it becomes the baseline
    only with ``accept=True`` and when it passes every gate without drift.

    :param spec: the model: a spec YAML path, a model name (looked up in ``capacity/`` beside the
        DAGs), a dict or a :class:`CapacitySpec`
    :param start: start of the window (ISO 8601 or Unix seconds; templated); default end - spec window
    :param end: end of the window (templated); default now
    :param store: model store (path or URL; templated); default ``[wecube] capacity_store``
    :param prometheus_conn_id: connection to the Prometheus holding the metrics
    :param accept: let a clean fit replace the baseline (off for canaries: a release is judged
        against the accepted model, it does not redefine it)
    :param require_baseline: fail when the model has no accepted baseline to compare with
    :param fail_on_drift: fail the task on drift (else only notify and return the report)
    :param on_drift_notifiers: Airflow notifiers told on drift; the context gets ``capacity_report``
    :return: the report (XCom): coefficients, intervals, R², gates, drift
    """

    template_fields: Sequence[str] = ("start", "end", "store")
    ui_color = "#e8d7f7"

    def __init__(
        self,
        *,
        spec: str | os.PathLike | dict | CapacitySpec,
        start: str | int | float | None = None,
        end: str | int | float | None = None,
        store: Any = None,
        prometheus_conn_id: str = "prometheus_default",
        accept: bool = False,
        require_baseline: bool = True,
        fail_on_drift: bool = True,
        on_drift_notifiers: Sequence[BaseNotifier] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.start = start
        self.end = end
        self.store = store
        self.prometheus_conn_id = prometheus_conn_id
        self.accept = accept
        self.require_baseline = require_baseline
        self.fail_on_drift = fail_on_drift
        self.on_drift_notifiers = list(on_drift_notifiers or [])

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_wecube.capacity import pipeline

        spec = resolve_spec(self.spec)
        store = open_store(self.store)
        if self.require_baseline and store.baseline_version(spec.name) is None:
            raise AirflowFailException(
                f"capacity model {spec.name} has no accepted baseline in {store}; run the nightly refit first"
            )
        start, end = resolve_window(spec, self.start, self.end)
        self.log.info("fitting %s over %s .. %s (step %s)", spec.name, start.isoformat(), end.isoformat(), spec.step)
        frame = fetch_frame(spec, start, end, prometheus_conn_id=self.prometheus_conn_id)
        report = pipeline.run(spec, frame, store, window={"start": start.isoformat(), "end": end.isoformat()},
                              accept=self.accept)
        self.log.info("%s", pipeline.format_report(report))
        code = pipeline.exit_code(report)
        if code == pipeline.EXIT_GATE_FAILED:
            from airflow_wecube.capacity.gates import failed_messages

            raise AirflowFailException(
                f"capacity model {spec.name}: the fit over the release window failed its gates "
                f"(version {report['version']}): " + "; ".join(failed_messages(report["gates"]))
            )
        if code == pipeline.EXIT_DRIFT:
            notify_drift(self.on_drift_notifiers, context, report)
            if self.fail_on_drift:
                raise AirflowFailException(drift_summary(report))
            self.log.warning("%s", drift_summary(report))
        return report
