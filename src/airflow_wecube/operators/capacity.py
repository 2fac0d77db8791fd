"""Capacity models in Airflow: the release gate operator.

The modelling itself is :mod:`airflow_wecube.capacity` (no Airflow there); the wiring to
Prometheus, the store and notifiers that the refit DAG and the CLI share is
:mod:`airflow_wecube.capacity.airflow`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.capacity.airflow import fetch_frame, notify_drift, open_store, resolve_spec
from airflow_wecube.capacity.drift_text import drift_summary
from airflow_wecube.capacity.spec import CapacitySpec, resolve_window

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier, Context

__all__ = ["CapacityGateOperator"]


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
    :param on_drift_notifiers: Airflow notifiers told on drift (the context gets ``capacity_report``,
        ``capacity_drift``, ``capacity_subject``, ``capacity_html``); they replace the default, an
        e-mail to the spec's ``owners`` through ``SmtpNotifier``; ``[]`` tells nobody
    :param smtp_conn_id: SMTP connection of the default e-mail; default ``[wecube] smtp_conn_id``
        (``smtp_default``). Without it the drift is not mailed (a warning says so) but still fails the task
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
        smtp_conn_id: str | None = None,
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
        self.on_drift_notifiers = list(on_drift_notifiers) if on_drift_notifiers is not None else None
        self.smtp_conn_id = smtp_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_wecube.capacity import pipeline

        spec = resolve_spec(self.spec)
        store = open_store(self.store)
        if self.require_baseline and store.baseline_version(spec.name) is None:
            raise AirflowFailException(
                f"capacity model {spec.name} has no accepted baseline in {store}; run the nightly refit first"
            )
        start, end = resolve_window(spec, self.start, self.end)
        store.check_writable(spec.name)
        self.log.info("fitting %s over %s .. %s (step %s)", spec.name, start.isoformat(), end.isoformat(), spec.step)
        frame = fetch_frame(spec, start, end, prometheus_conn_id=self.prometheus_conn_id)
        report = pipeline.run(
            spec, frame, store, window={"start": start.isoformat(), "end": end.isoformat()}, accept=self.accept
        )
        self.log.info("%s", pipeline.format_report(report))
        code = pipeline.exit_code(report)
        if code == pipeline.EXIT_GATE_FAILED:
            from airflow_wecube.capacity.gates import failed_messages

            raise AirflowFailException(
                f"capacity model {spec.name}: the fit over the release window failed its gates "
                f"(version {report['version']}): " + "; ".join(failed_messages(report["gates"]))
            )
        if code == pipeline.EXIT_DRIFT:
            notify_drift(self.on_drift_notifiers, context, report, owners=spec.owners, smtp_conn_id=self.smtp_conn_id)
            if self.fail_on_drift:
                raise AirflowFailException(drift_summary(report))
            self.log.warning("%s", drift_summary(report))
        return report
