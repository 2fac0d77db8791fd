"""PrometheusQuerySensor (poke and deferrable) and its trigger, against a real Prometheus."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_wecube.compat.settle import settle_seconds
from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import PrometheusQueryError
from airflow_wecube.sensors.prometheus import PrometheusQuerySensor
from airflow_wecube.triggers.prometheus import PrometheusQueryTrigger


def sensor(**kw) -> PrometheusQuerySensor:
    kw.setdefault("task_id", "gate")
    kw.setdefault("poke_interval", 0.5)
    kw.setdefault("timeout", 30)
    return PrometheusQuerySensor(**kw)


def run_trigger(trigger: PrometheusQueryTrigger, limit: float = 60.0):
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(first_event(), limit))


def test_bad_condition_fails_at_dag_parse():
    with pytest.raises(ValueError, match="invalid condition"):
        sensor(promql="up", condition="is up")
    sensor(promql="up", condition="{{ params.cond }}")  # templated: checked when rendered


# -- poke mode ------------------------------------------------------------------------------


def test_poke_passes_once_the_target_is_up(prometheus_conn, exporter):
    job = "it_sensor_poke"
    PrometheusHook(prometheus_conn).register_targets(job, [exporter.target], confirm=False)
    try:
        result = sensor(promql=f'up{{job="{job}"}}', condition="== 1 and count == 1").execute({})
        assert [(s["labels"]["instance"], s["value"]) for s in result] == [(exporter.target, 1.0)]
    finally:
        PrometheusHook(prometheus_conn).deregister_targets(job, [exporter.target], confirm=False)


def test_poke_times_out_and_logs_the_failing_series(prometheus_conn, capfd):
    gate = sensor(promql='label_replace(vector(0), "instance", "x:1", "", "")', condition="== 1", timeout=1.5)
    started = time.monotonic()
    with pytest.raises(AirflowSensorTimeout):
        gate.execute({})
    assert time.monotonic() - started < 10
    out, err = capfd.readouterr()  # task logs go through structlog to the console
    assert "condition '== 1' not met" in out + err
    assert 'failing: {instance="x:1"} = 0.0' in out + err


def test_poke_timeout_names_the_last_poke(prometheus_conn):
    """The timeout says why the gate never opened, not only that it timed out."""
    gate = sensor(promql='label_replace(vector(0), "instance", "x:1", "", "")', condition="== 1", timeout=1.5)
    with pytest.raises(AirflowSensorTimeout) as e:
        gate.execute({})
    assert "timeout of 1.5" in str(e.value)
    assert "last poke: condition '== 1' not met" in str(e.value)
    assert 'failing: {instance="x:1"} = 0.0' in str(e.value)


def test_poke_timeout_names_an_unreachable_prometheus(monkeypatch):
    from tests.fixtures.prometheus import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_DEAD", json.dumps({"conn_type": "prometheus", "host": url}))
    gate = sensor(promql="up", condition="== 1", timeout=1, prometheus_conn_id="prometheus_dead")
    with pytest.raises(AirflowSensorTimeout, match=f"last poke: Prometheus at {url} is unreachable"):
        gate.execute({})


def test_poke_soft_fail_skips(prometheus_conn):
    with pytest.raises(AirflowSkipException):
        sensor(promql="vector(0)", condition="> 0", timeout=1, soft_fail=True).execute({})


def test_poke_bad_promql_fails_at_once(prometheus_conn):
    started = time.monotonic()
    with pytest.raises(PrometheusQueryError, match="parse error"):
        sensor(promql="up{", condition="== 1").execute({})
    assert time.monotonic() - started < 5


# -- deferrable mode ------------------------------------------------------------------------


def test_deferrable_returns_at_once_when_already_true(prometheus_conn):
    result = sensor(promql="vector(1)", condition="== 1", deferrable=True).execute({})
    assert result[0]["value"] == 1.0


def test_deferrable_defers_with_the_right_trigger(prometheus_conn):
    gate = sensor(promql="vector(0)", condition="== 1", deferrable=True, poke_interval=2, timeout=120)
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        gate.execute({})
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout.total_seconds() == 120
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_wecube.triggers.prometheus.PrometheusQueryTrigger"
    assert kwargs["promql"] == "vector(0)" and kwargs["condition"] == "== 1"
    assert kwargs["prometheus_conn_id"] == "prometheus_default" and kwargs["poke_interval"] == 2
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120
    # no event before Airflow can have seen this worker exit (airflow_wecube.compat.settle)
    assert before + settle_seconds() <= kwargs["not_before"] <= time.time() + settle_seconds()
    # the trigger rebuilds from its serialized form, as the triggerer does
    assert PrometheusQueryTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_execute_complete_handles_each_event():
    gate = sensor(promql="up", condition="== 1", deferrable=True)
    series = [{"labels": {"job": "x"}, "value": 1.0, "timestamp": 1.0}]
    assert gate.execute_complete({}, {"status": "success", "message": "ok", "series": series}) == series
    with pytest.raises(AirflowSensorTimeout, match="not met"):
        gate.execute_complete({}, {"status": "timeout", "message": "condition '== 1' not met"})
    with pytest.raises(PrometheusQueryError, match="parse error"):
        gate.execute_complete({}, {"status": "error", "message": "parse error"})
    soft = sensor(promql="up", condition="== 1", deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.execute_complete({}, {"status": "timeout", "message": "x"})


def test_trigger_fires_when_the_condition_becomes_true(prometheus_conn, exporter):
    """Deferred sensor end to end: defer, run its trigger while the target gets registered, resume."""
    job = "it_sensor_trigger"
    gate = sensor(promql=f'up{{job="{job}"}}', condition="== 1", deferrable=True, poke_interval=0.5, timeout=60)
    with pytest.raises(TaskDeferred) as info:
        gate.execute({})  # nothing registered yet: the first poke fails
    hook = PrometheusHook(prometheus_conn)
    timer = threading.Timer(1.0, lambda: hook.register_targets(job, [exporter.target], confirm=False))
    timer.start()
    try:
        event = run_trigger(info.value.trigger)
    finally:
        timer.join()
        hook.deregister_targets(job, [exporter.target], confirm=False)
    assert event["status"] == "success"
    result = gate.execute_complete({}, event)
    assert [(s["labels"]["instance"], s["value"]) for s in result] == [(exporter.target, 1.0)]


def test_trigger_times_out(prometheus_conn):
    trigger = PrometheusQueryTrigger("vector(0)", "== 1", poke_interval=0.3, end_time=time.time() + 1.5)
    started = time.monotonic()
    event = run_trigger(trigger)
    assert 1.0 < time.monotonic() - started < 10
    assert event["status"] == "timeout" and "not met" in event["message"]


def test_trigger_reports_bad_promql(prometheus_conn):
    event = run_trigger(PrometheusQueryTrigger("sum(", "== 1", poke_interval=0.3, end_time=time.time() + 30))
    assert event["status"] == "error" and "parse error" in event["message"]


def test_trigger_true_at_once_still_waits_for_not_before(prometheus_conn):
    """A condition already true when the trigger starts must not resume the task at once: Airflow 3.3.2
    would fail it (stale executor event of the deferring worker; see airflow_wecube.compat.settle)."""
    not_before = time.time() + 2.0
    trigger = PrometheusQueryTrigger(
        "vector(1)", "== 1", poke_interval=0.3, end_time=time.time() + 30, not_before=not_before
    )
    event = run_trigger(trigger)
    assert event["status"] == "success"
    assert time.time() >= not_before


def test_trigger_timeout_also_waits_for_not_before(prometheus_conn):
    not_before = time.time() + 2.0
    event = run_trigger(
        PrometheusQueryTrigger("vector(0)", "== 1", poke_interval=0.3, end_time=time.time(), not_before=not_before)
    )
    assert event["status"] == "timeout" and time.time() >= not_before
