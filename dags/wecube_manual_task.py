"""A manual task: ask a person in taskman's inbox, wait for the answer, go on with it.

``taskman/task/create-custom`` is an asynchronous plugin interface (``isAsyncProcessing="Y"``): the
sandbox's taskman opens a task in its inbox (http://127.0.0.1:19090/taskman/inbox in ``make
demo``) and answers at once; the Airflow task then waits in the triggerer, holding no worker slot,
until the person completes or rejects it there and taskman POSTs the result to Airflow's callback
URL (``[wecube] callback_base_url``, which ``make demo`` sets). The DAG passes neither
``callbackUrl`` nor ``procInstId``: the provider fills them. See docs/async-plugins.md.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_wecube.operators.plugin import plugin_operator

CreateCustom = plugin_operator("taskman/task/create-custom")


@task
def go_on(decision: dict) -> str:
    """What the person chose, and their comment, for the next steps."""
    return f"{decision['chosenOption']}: {decision.get('comment') or 'no comment'}"


with DAG(
    dag_id="wecube_manual_task",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["wecube", "example"],
    params={"task": "check the release notes"},
    doc_md=__doc__,
):
    ask = CreateCustom(
        task_id="ask",
        taskName="{{ params.task }} ({{ run_id }})",
        roleName="ops",
        reporter="airflow",
        taskDescription="complete it in the sandbox's inbox: {{ params.task }}",
        timeout=3600,
    )
    go_on(ask.output)
