"""Capacity models in Airflow: the release gate operator and the canary capacity probe.

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

__all__ = ["CapacityGateOperator", "CapacityProbeOperator"]

#: the probe's rate ranges by default: the account service's operations (per second)
DEFAULT_RATE_RANGES = {"open_rate": (10.0, 100.0), "close_rate": (10.0, 80.0), "transfer_rate": (5.0, 60.0)}


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


class CapacityProbeOperator(BaseOperator):
    """Drive a designed load on canary instance(s), fit the capacity model on it and judge the release.

    The schedule (:func:`~airflow_wecube.capacity.design.design_schedule`: ``steps`` Latin-hypercube
    steps, every rate varied on its own, VIF < 5) runs through the load plugin interface
    (``deploy/app/load``: host, app, rates), each step held ``hold_intervals`` scrape intervals; the
    load that ran before is put back afterwards, also when the probe fails. Then exactly that window
    and those instances are fetched from Prometheus (the spec's PromQL narrowed to the canary, see
    :mod:`airflow_wecube.capacity.probe`), fitted with HAC inference, candidates tested, and compared
    with the baseline of the released version in the model store (model ``<spec name>_canary``).

    Verdicts (:mod:`airflow_wecube.capacity.verdict`): ``pass``, ``regression``, ``new_factor``.
    The fit, its plot and a Markdown report are stored as a new version; a ``pass`` makes it the
    baseline when ``accept_on_pass`` (the first release always passes and, so, becomes the baseline).
    A non-pass verdict is told to the spec's owners. Too little data fails the task with the reason;
    nothing is stored then.

    :param spec: the model (spec path, model name beside the DAGs, dict or :class:`CapacitySpec`)
    :param canary: the canary instances: ``[{"host", "app", "target", "version"}]`` (the deploy's outputs)
    :param app_version: the version under test (templated); default the canary's ``version``
    :param rate_ranges: ``{rate input: [low, high]}`` of the load plugin; default open, close and transfer rates
    :param steps: load steps (at least 6)
    :param hold_intervals: scrape intervals each step is held (at least 3; the first is discarded)
    :param scrape_interval: Prometheus's scrape interval for the canary (seconds or duration)
    :param seed: seed of the design (same seed, same schedule)
    :param model: the model store name of the probe fits; default ``<spec name>_canary``
    :param accept_on_pass: a ``pass`` makes this fit the baseline at once (a rollout may rather
        accept it once the release went through, with :func:`airflow_wecube.capacity.pipeline.accept_version`)
    :param fail_on_verdict: fail the task on a non-pass verdict (default: return it, a branch decides)
    :param notifiers: told on a non-pass verdict (context: ``capacity_report``, ``capacity_subject``,
        ``capacity_html``); default an e-mail to the spec's owners; ``[]`` tells nobody
    :return: the probe result (XCom): ``verdict``, ``reasons``, ``coefficient_table`` (baseline and new
        value with 95% intervals, relative change), ``candidates``, ``r2``, ``report_markdown``, ``version``, ...
    """

    template_fields: Sequence[str] = ("spec", "canary", "app_version", "scrape_interval", "store")
    ui_color = "#e8d7f7"

    def __init__(
        self,
        *,
        spec: str | os.PathLike | dict | CapacitySpec,
        canary: Any,
        app_version: str | None = None,
        rate_ranges: dict[str, Sequence[float]] | None = None,
        steps: int = 8,
        hold_intervals: int = 4,
        scrape_interval: float | str = 5,
        seed: int = 0,
        model: str | None = None,
        store: Any = None,
        prometheus_conn_id: str = "prometheus_default",
        wecube_conn_id: str = "wecube_default",
        accept_on_pass: bool = True,
        fail_on_verdict: bool = False,
        min_r2_gain: float | None = None,
        notifiers: Sequence[BaseNotifier] | None = None,
        smtp_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_wecube.capacity.design import check_design

        super().__init__(**kwargs)
        self.steps_count, self.hold_intervals, self.seed = steps, hold_intervals, seed
        self.scrape_interval = scrape_interval
        if not (isinstance(scrape_interval, str) and "{{" in scrape_interval):
            self._interval()  # a bad interval or hold fails at DAG import (a template is checked when rendered)
        self.rate_ranges = dict(rate_ranges or DEFAULT_RATE_RANGES)
        check_design(self.rate_ranges, steps)  # a bad design fails at DAG import
        self.spec, self.canary, self.app_version = spec, canary, app_version
        self.model, self.store = model, store
        self.prometheus_conn_id, self.wecube_conn_id = prometheus_conn_id, wecube_conn_id
        self.accept_on_pass, self.fail_on_verdict = accept_on_pass, fail_on_verdict
        self.min_r2_gain = min_r2_gain
        self.notifiers = list(notifiers) if notifiers is not None else None
        self.smtp_conn_id = smtp_conn_id

    def _interval(self):
        from datetime import timedelta

        from airflow_wecube.capacity.probe import check_probe_params
        from airflow_wecube.util.durations import parse_duration

        value = self.scrape_interval
        try:
            interval = timedelta(seconds=float(value)) if not isinstance(value, timedelta) else value
        except (TypeError, ValueError):
            interval = parse_duration(str(value))
        check_probe_params(self.steps_count, self.hold_intervals, interval)
        return interval

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_wecube.capacity.design import design_schedule
        from airflow_wecube.capacity.probe import ProbeDataError
        from airflow_wecube.capacity.probe_run import canary_list, run_probe
        from airflow_wecube.hooks.plugin import WeCubePluginHook
        from airflow_wecube.hooks.prometheus import PrometheusHook

        spec = resolve_spec(self.spec)
        canary = canary_list(self.canary)
        store = open_store(self.store)
        model = self.model or f"{spec.name}_canary"
        store.check_writable(model)
        ti = context.get("ti")
        request_id = f"{ti.dag_id}-{ti.run_id}-{ti.task_id}-{ti.try_number}" if ti is not None else None
        interval = self._interval()
        schedule = design_schedule(self.rate_ranges, self.steps_count, seed=self.seed)
        try:
            result = run_probe(
                spec,
                canary,
                schedule,
                store=store,
                model=model,
                app_version=self.app_version,
                scrape_interval=interval,
                hold_intervals=self.hold_intervals,
                plugin=WeCubePluginHook(self.wecube_conn_id),
                prometheus=PrometheusHook(prometheus_conn_id=self.prometheus_conn_id),
                accept_on_pass=self.accept_on_pass,
                min_r2_gain=self.min_r2_gain,
                request_id=request_id,
                log=self.log,
            )
        except ProbeDataError as e:
            raise AirflowFailException(str(e)) from None
        self.log.info("%s", result["report_markdown"])
        if result["verdict"] != "pass":
            from airflow_wecube.capacity.airflow import notify_probe

            told = notify_probe(self.notifiers, context, result, owners=spec.owners, smtp_conn_id=self.smtp_conn_id)
            self.log.warning("capacity probe verdict %s (told %d notifier(s))", result["verdict"], told)
            if self.fail_on_verdict:
                from airflow_wecube.capacity.verdict import headline

                raise AirflowFailException(headline(result))
        return result
