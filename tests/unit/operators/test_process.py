"""A process's timer node: the triggerer ends it, so no worker resumes it (compat/settle.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_wecube.operators.process import ProcessNodeOperator
from airflow_wecube.processes import ProcessStore, read_process_file, validate
from tests.fixtures.paths import PROCESS_DATA
from tests.fixtures.task_instance import FakeTI


@pytest.fixture
def stored(sandbox_registry, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("WECUBE_PROCESSES_PATH", str(tmp_path))
    processes = [validate(p, sandbox_registry) for p in read_process_file(PROCESS_DATA / "v4_app_release.json")]
    ProcessStore(tmp_path).save(processes)
    return processes[0]


def wait_node(process, **bind):
    op = ProcessNodeOperator(
        task_id="n_wait",
        process_key=process.key,
        process_version=process.version,
        process_node="n_wait",
        process_node_type="timeInterval",
    )
    return op, {"ti": FakeTI(xcoms={"wecube_bind": {"dry_run": False, **bind}}), "params": {}}


def test_a_timer_is_ended_by_the_triggerer_not_resumed_in_a_worker(stored):
    op, context = wait_node(stored)
    before = datetime.now(timezone.utc)
    with pytest.raises(TaskDeferred) as info:
        op.execute(context)
    trigger = info.value.trigger
    # a resume right after the park would be failed by Airflow 3.3.2 (apache/airflow#71580)
    assert trigger.end_from_trigger is True
    assert before + timedelta(seconds=30) <= trigger.moment <= datetime.now(timezone.utc) + timedelta(seconds=30)


def test_a_dry_run_waits_for_nothing(stored):
    op, context = wait_node(stored, dry_run=True)
    assert op.execute(context) is None
