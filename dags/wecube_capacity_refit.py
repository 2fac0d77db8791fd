"""Nightly capacity refit: for every model spec in ``capacity/*.yml`` beside this file,
fetch → fit → gate → compare → publish.

* **fetch**: range-query the spec's target and features from Prometheus (connection
  ``prometheus_default``) over the spec's window ending at the run's time; staged in the store
  (staged data that earlier runs left behind for the model is cleared). Too little data (a series
  with no data yet, or fewer samples than the spec's ``min_samples``, as on a fresh demo) skips
  that model's refit with the reason (``N samples < min_samples (M)``); the baseline stays.
* **fit**: OLS with inference (coefficients, 95% intervals, p-values, R², VIF, headroom), stored as
  a new version with its plot. The staged data is deleted only once the version is saved, so a
  retried fit reads the same data.
* **gate**: min samples, min R², max p-value. A failed gate fails the task: the baseline stays.
* **compare**: drift against the accepted baseline (coefficient intervals and relative change,
  Chow test, R² drop), on autocorrelation-robust (HAC / Newey-West) standard errors so that the
  overlapping windows of PromQL rates do not raise false alarms. Drift e-mails the spec's ``owners``
  (Airflow's ``SmtpNotifier`` on connection ``[wecube] smtp_conn_id``, default ``smtp_default``;
  ``ON_DRIFT_NOTIFIERS`` replaces it) and fails the task, so the run shows it; otherwise the fit becomes the
  baseline. After an intended change, ``wecube capacity accept MODEL VERSION`` makes the drifted
  version the baseline (``wecube capacity list MODEL`` shows the versions).
* **publish**: recording rule ``capacity:<model>:predicted`` and an efficiency-regression alert in
  Prometheus, and an Asset event ``wecube-capacity://<model>`` (other DAGs may schedule on
  ``airflow_wecube.capacity.airflow.capacity_asset(model)``).

Run parameters ``start``/``end`` (ISO 8601 or Unix seconds) override the window, e.g. to replay a day.
The store is ``[wecube] capacity_store`` (local folder or object storage URL). The spec folder can be
moved with the environment variable ``WECUBE_CAPACITY_SPECS``. Spec keys, gates, drift rules, store
layout and CLI exit codes: ``docs/capacity.md``.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, get_current_context, task, task_group

from airflow_wecube.capacity.airflow import specs_folder

SPECS_DIR = specs_folder(Path(__file__).resolve().parent)
SPEC_FILES = sorted(str(p) for p in SPECS_DIR.glob("*.yml"))  # listing only; specs are read in the tasks
PROMETHEUS_CONN_ID = "prometheus_default"
MODELS_ALIAS = AssetAlias("wecube-capacity-models")
# Notifiers told when a model drifts. None: an e-mail to the spec's owners through SmtpNotifier on
# [wecube] smtp_conn_id (default smtp_default). A list replaces that ([] tells nobody), e.g.
# [SmtpNotifier(to=["oncall@example.com"], subject="{{ capacity_subject }}", html_content="{{ capacity_html }}")];
# each is called with the task context plus capacity_report, capacity_drift, capacity_owners,
# capacity_subject and capacity_html.
ON_DRIFT_NOTIFIERS: list | None = None


def _context_window(spec):
    from airflow_wecube.capacity.spec import resolve_window

    ctx = get_current_context()
    params = ctx.get("params") or {}
    end = params.get("end") or ctx.get("data_interval_end") or ctx["dag_run"].run_after
    return resolve_window(spec, params.get("start"), end)


with DAG(
    dag_id="wecube_capacity_refit",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["wecube", "capacity"],
    doc_md=__doc__,
    params={
        "start": Param(
            None, type=["null", "string", "integer"], description="window start (default: end - spec window)"
        ),
        "end": Param(None, type=["null", "string", "integer"], description="window end (default: the run's time)"),
    },
) as dag:

    @task_group(group_id="refit")
    def refit(spec_path: str):
        @task
        def fetch(spec_path: str) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from airflow_wecube.capacity.airflow import fetch_frame, open_store
            from airflow_wecube.capacity.refit import NotEnoughData, fetch_for_fit, stage_frame
            from airflow_wecube.capacity.spec import load_spec

            spec = load_spec(Path(spec_path))
            start, end = _context_window(spec)
            store = open_store()
            store.check_writable(spec.name)  # before the fetch: its data would have nowhere to go
            try:
                frame = fetch_for_fit(
                    spec, start, end, lambda s, a, b: fetch_frame(s, a, b, prometheus_conn_id=PROMETHEUS_CONN_ID)
                )
            except NotEnoughData as e:
                raise AirflowSkipException(str(e)) from None
            ctx = get_current_context()
            key, stale = stage_frame(store, spec.name, frame, ctx["run_id"], ctx["ti"].map_index)
            if stale:
                print(f"{spec.name}: cleared staged data left by earlier runs: {', '.join(stale)}")
            print(f"{spec.name}: fetched {len(frame)} rows {start.isoformat()} .. {end.isoformat()}")
            return {
                "spec_path": spec_path,
                "model": spec.name,
                "key": key,
                "window": {"start": start.isoformat(), "end": end.isoformat()},
            }

        @task
        def fit(fetched: dict) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from airflow_wecube.capacity.airflow import open_store
            from airflow_wecube.capacity.refit import StagedDataMissing, fit_staged

            try:
                fitted, line = fit_staged(fetched, open_store())
            except StagedDataMissing as e:
                raise AirflowFailException(str(e)) from e
            print(line)
            return fitted

        @task
        def gate(fitted: dict) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from airflow_wecube.capacity.airflow import open_store
            from airflow_wecube.capacity.refit import gate_failure

            failure = gate_failure(fitted, open_store())
            if failure:
                raise AirflowFailException(failure)
            return fitted

        @task
        def compare(gated: dict) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from airflow_wecube.capacity.airflow import notify_drift, open_store
            from airflow_wecube.capacity.drift_text import drift_summary
            from airflow_wecube.capacity.pipeline import accept_if_clean, build_report, compare_version, format_report
            from airflow_wecube.capacity.spec import load_spec

            spec, store = load_spec(Path(gated["spec_path"])), open_store()
            drift = compare_version(spec, store, gated["version"])
            accepted = accept_if_clean(spec, store, gated["version"])
            report = build_report(store, spec.name, gated["version"])
            print(format_report(report))
            if drift and drift["found"]:
                notify_drift(ON_DRIFT_NOTIFIERS, get_current_context(), report, owners=spec.owners)
                raise AirflowFailException(drift_summary(report))
            return {**gated, "accepted": accepted}

        @task(outlets=[MODELS_ALIAS])
        def publish(compared: dict) -> dict:
            from airflow_wecube.capacity.airflow import capacity_asset, open_store, publish_rules
            from airflow_wecube.capacity.rules import recording_rule_name
            from airflow_wecube.capacity.spec import load_spec

            spec, store = load_spec(Path(compared["spec_path"])), open_store()
            record = store.load_version(spec.name, compared["version"])
            publish_rules(spec, record, prometheus_conn_id=PROMETHEUS_CONN_ID)
            fit_ = record["fit"]
            get_current_context()["outlet_events"][MODELS_ALIAS].add(
                capacity_asset(spec.name),
                extra={"version": compared["version"], "formula": fit_["formula"], "r2": fit_["r2"], "n": fit_["n"]},
            )
            print(f"{spec.name}: published {recording_rule_name(spec.name)} from version {compared['version']}")
            return {"model": spec.name, "version": compared["version"], "rule": recording_rule_name(spec.name)}

        publish(compare(gate(fit(fetch(spec_path)))))

    refit.expand(spec_path=SPEC_FILES)
