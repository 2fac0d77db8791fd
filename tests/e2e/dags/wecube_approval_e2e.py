"""DAGs for the ApprovalSensor end-to-end tests (copied into the test standalone's DAGs folder).

Each DAG groups scenarios that can run concurrently; tests drive them through the REST API.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.sdk import DAG, BaseNotifier, Param, task

from airflow_wecube.sensors.approval import ApprovalSensor

START = datetime(2024, 1, 1)
APPROVERS = ["alice", "bob"]


class FileNotifier(BaseNotifier):
    """Appends what an approver would be told (link, reason) to ``dag_run.conf['notify_file']``."""

    template_fields = ("path",)

    def __init__(self, path: str = "{{ dag_run.conf.get('notify_file', '') }}"):
        super().__init__()
        self.path = path

    def notify(self, context):
        if not self.path:
            return
        approval = context.get("approval") or {}
        with open(self.path, "a") as f:
            f.write(json.dumps({"task": context["ti"].task_id, **approval}, default=str) + "\n")


@task
def plan() -> dict:
    return {"hosts": ["web-1", "web-2"], "action": "restart nginx"}


@task
def risky(decision: dict | None = None) -> str:
    return f"ran after {decision and decision['decision']}"


with DAG("wecube_approval_basic", start_date=START, schedule=None, catchup=False, tags=["wecube-e2e"]) as basic:
    gate = ApprovalSensor(
        task_id="gate",
        subject="Restart nginx on {{ ti.xcom_pull(task_ids='plan')['hosts'] | length }} hosts",
        body="Plan:\n\n```json\n{{ ti.xcom_pull(task_ids='plan') | tojson }}\n```",
        approvers=APPROVERS,
        priority="high",
        form={"ticket": Param(None, type="string", minLength=3, title="Change ticket")},
        notifiers=[FileNotifier()],
    )
    plan() >> gate
    risky(gate.output)


with DAG("wecube_approval_timeouts", start_date=START, schedule=None, catchup=False, tags=["wecube-e2e"]) as timeouts:
    for policy, soft in (("fail", False), ("fail", True), ("reject", False), ("approve", False)):
        name = f"on_timeout_{policy}" + ("_soft" if soft else "")
        sensor = ApprovalSensor(
            task_id=name,
            subject=f"timeout policy {name}",
            approvers=APPROVERS,
            response_timeout=timedelta(seconds=12),
            on_timeout=policy,
            soft_fail=soft,
            priority="low",
        )
        sensor >> risky.override(task_id=f"after_{name}")()


with DAG("wecube_approval_four_eyes", start_date=START, schedule=None, catchup=False, tags=["wecube-e2e"]) as four:
    gate = ApprovalSensor(
        task_id="gate",
        subject="Drop table {{ dag_run.conf.get('plan', 'none') }}",
        body="Plan version: {{ var.value.get('wecube_plan_' ~ dag_run.conf.get('plan', 'none'), 'v1') }}",
        approvers=["admin", "alice", "bob", "carol"],
        required_approvals=2,
        requester_cannot_approve=True,
        evidence="{{ var.value.get('wecube_plan_' ~ dag_run.conf.get('plan', 'none'), 'v1') }}",
        notifiers=[FileNotifier()],
    )
    gate >> risky.override(task_id="after")()


with DAG("wecube_approval_reject_skip", start_date=START, schedule=None, catchup=False, tags=["wecube-e2e"]) as rs:
    # anyone may answer, but the requester's own approval does not count; a rejection skips
    gate = ApprovalSensor(
        task_id="gate",
        subject="Anyone but the requester",
        requester_cannot_approve=True,
        on_reject="skip",
    )
    gate >> risky.override(task_id="after")()


# Answered by the tests the moment each request appears (a bot, an automated policy, a REST client).
for dag_id, required in (("wecube_approval_instant", 1), ("wecube_approval_instant_four_eyes", 2)):
    with DAG(dag_id, start_date=START, schedule=None, catchup=False, tags=["wecube-e2e"]):
        gate = ApprovalSensor(
            task_id="gate", subject=f"Answered at once ({required})", approvers=APPROVERS, required_approvals=required
        )
        gate >> risky.override(task_id="after")(gate.output)
