"""A plugin call made inside a task sends the same requestId in every try of that task instance."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_wecube.protocol import request_ids
from airflow_wecube.protocol.request_ids import stable_request_id, task_request_id


def ti(try_number: int, map_index: int | None = -1, run_id: str = "r1"):
    return SimpleNamespace(dag_id="d", run_id=run_id, task_id="t", map_index=map_index, try_number=try_number)


@pytest.fixture
def running(monkeypatch):
    """Pretend this process runs the task instance given (what get_current_context gives in a task)."""
    current = {}
    monkeypatch.setattr(request_ids, "_running_task_instance", lambda: current.get("ti"))
    monkeypatch.setattr(request_ids, "_calls", request_ids.Counter())
    return current


def calls(current, try_number, **kw):
    current["ti"] = ti(try_number, **kw)
    return [task_request_id("cmdb/ci/create"), task_request_id("cmdb/ci/update"), task_request_id("cmdb/ci/create")]


def test_each_try_sends_the_ids_of_the_first(running):
    first = calls(running, 1)
    assert len(set(first)) == 3  # distinct calls of one try get distinct ids
    assert calls(running, 2) == first  # a retry, even in the same process, repeats them in order


def test_ids_differ_per_task_instance(running):
    base = calls(running, 1)
    assert calls(running, 1, map_index=0) != base
    assert calls(running, 1, run_id="r2") != base
    assert calls(running, 2, map_index=None) == base  # a retry of an unmapped task: map index -1


def test_outside_a_task_each_call_gets_a_new_id():
    assert task_request_id("x") != task_request_id("x")


def test_stable_request_id_is_the_operators():
    from airflow_wecube.operators import plugin

    assert plugin.stable_request_id is stable_request_id
    assert stable_request_id("d", "r", "t", -1) == stable_request_id("d", "r", "t", -1)
