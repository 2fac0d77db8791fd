"""DAGs for the asynchronous plugin end-to-end test: taskman's real ``task/create-custom`` (APPROVAL,
``isAsyncProcessing="Y"``) from the real manifest, answered in the sandbox's taskman inbox.

Copied into the test standalone's DAGs folder after the test registered the real manifest as
``taskman@0.1.0+corpus`` and pointed ``wecube_default`` at the sandbox. The DAG author passes neither
``callbackUrl`` nor ``procInstId``: the platform fills them.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task

from airflow_wecube.operators.plugin import WeCubePluginOperator, plugin_operator

VERSION = "0.1.0+corpus"
CreateCustom = plugin_operator("taskman/task/create-custom", version=VERSION)


@task
def after(decision: dict) -> str:
    return f"continued after {decision['chosenOption']}: {decision['comment']}"


with DAG("wecube_async_approval", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["e2e"]):
    gate = CreateCustom(
        task_id="gate",
        taskName="Release {{ run_id }}",
        roleName="SUPER_ADMIN",
        reporter="airflow",
        taskDescription="approve the release of run {{ run_id }}",
        timeout=600,
    )
    after(gate.output)


@task
def after_both(decisions: list[dict]) -> str:
    return "; ".join(f"{d['callbackParameter']} {d['chosenOption']}: {d['comment']}" for d in decisions)


with DAG("wecube_async_two", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["e2e"]):
    # two entities in one call: taskman opens one inbox task per entity and calls back once per task
    gate_two = WeCubePluginOperator(
        task_id="gate",
        service="taskman/task/create-custom",
        version=VERSION,
        inputs=[
            {
                "callbackParameter": cb,
                "taskName": f"Release {cb} {{{{ run_id }}}}",
                "roleName": "SUPER_ADMIN",
                "reporter": "airflow",
            }
            for cb in ("web", "db")
        ],
        timeout=600,
    )
    after_both(gate_two.output)

with DAG("wecube_async_timeouts", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["e2e"]):
    # nobody answers: each times out after 2 s (at the earliest when the park has settled) per its policy
    for policy in ("fail", "skip", "approve"):
        CreateCustom(
            task_id=f"on_timeout_{policy}",
            taskName=f"never answered ({policy}) {{{{ run_id }}}}",
            roleName="SUPER_ADMIN",
            reporter="airflow",
            timeout=2,
            on_timeout=policy,
        )
