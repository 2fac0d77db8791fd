"""The two runbook DAGs are built from the shared steps of ``airflow_wecube.orchestrations.runbooks``: the same shape
around their own action, each gate reading its own action's XComs."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.integration

#: dag id -> (file, the task that acts)
RUNBOOKS = {
    "wecube_remediate_instance": ("wecube_remediate_instance.py", "redeploy"),
    "wecube_scale_out": ("wecube_scale_out.py", "scale_out"),
}


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    path = os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], RUNBOOKS[dag_id][0])
    bag = DagBag(path)
    assert dag_id in bag.dags, bag.import_errors
    return bag.dags[dag_id]


@pytest.mark.parametrize("dag_id", sorted(RUNBOOKS))
def test_a_runbook_has_the_shared_steps_around_its_action(dag_id):
    dag = _dag(dag_id)
    act = RUNBOOKS[dag_id][1]
    tasks = dag.task_dict
    assert {"triage", "approve", "claim", act, "gate_up", "finish", "escalate", "report"} <= set(tasks)
    assert tasks["triage"].downstream_task_ids == {"approve", "claim", "finish"}
    assert tasks["approve"].downstream_task_ids == {"claim"}
    assert tasks["claim"].trigger_rule == "none_failed_min_one_success"
    assert {act, "finish"} <= tasks["claim"].downstream_task_ids
    assert tasks[act].downstream_task_ids == {"gate_up", "finish"}
    assert tasks["gate_up"].downstream_task_ids == {"finish"}
    assert tasks["finish"].trigger_rule == "all_done" and tasks["finish"].downstream_task_ids == {"escalate", "report"}
    assert tasks["report"].trigger_rule == "all_done" and tasks["report"].upstream_task_ids == {"finish", "escalate"}
    # the gate reads the XComs of this runbook's action, and is not retried (its timeout is the outcome)
    gate = tasks["gate_up"]
    assert f"task_ids='{act}', key='gate_promql'" in gate.promql
    assert f"task_ids='{act}', key='gate_count'" in gate.condition
    assert gate.retries == 0
    # a person: high priority, the plan before acting, the evidence when escalating
    assert tasks["approve"].priority == tasks["escalate"].priority == "high"
    assert "key='plan'" in tasks["approve"].body and "key='evidence'" in tasks["escalate"].body
    assert tasks["escalate"].subject.startswith("Runbook ") and "key='summary'" in tasks["escalate"].subject
    assert tasks["triage"].retries == 2  # every step is safe to repeat
    assert {"dry_run", "cooldown", "flap_limit", "flap_window"} <= set(dag.params)


def test_each_runbook_keeps_its_own_guard_numbers():
    instance, scale = _dag("wecube_remediate_instance"), _dag("wecube_scale_out")
    assert instance.params["cooldown"] == 300 and scale.params["cooldown"] == 900
    assert scale.params["max_instances"] == 6 and "max_instances" not in instance.params
    assert "silence" in instance.task_dict and "silence" not in scale.task_dict
