"""The nodes of a process that ask a person or pick a branch: a human node with no service (an
approval in Required Actions whose options are the decision links after it), a risk check, a timer a
person may end early (``allowContinue``), and the decision that branches on the chosen option."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.branch import BaseBranchOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.operators.process_context import CHOICE_XCOM, NODE_XCOM, bound, load_process
from airflow_wecube.sensors.approval import ApprovalSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

#: the option of a human node not followed by a decision
DONE = "Done"
CONTINUE = "Continue now"


class ProcessHumanOperator(ApprovalSensor):
    """A person answers in Required Actions; the option chosen is recorded (XCom ``wecube_choice``)
    for the decision after the node. Every option counts as an answer, none as a rejection, except
    a risk check's ``Stop``. A dry run asks nobody."""

    def __init__(self, *, process_node: str, **kwargs: Any):
        kwargs.setdefault("approve_options", list(kwargs.get("options") or [DONE]))
        super().__init__(**kwargs)
        self.process_node = process_node

    def execute(self, context: Context) -> Any:
        if bound(context).get("dry_run"):
            self.log.info("dry run: node %s asks nobody", self.process_node)
            context["ti"].xcom_push(
                key=NODE_XCOM, value={"node_id": self.process_node, "service": "", "entities": [], "calls": []}
            )
            return None
        return super().execute(context)

    def _finish(self, context: Context, record: dict) -> dict:
        record = super()._finish(context, record)
        chosen = next((a.get("option") for a in reversed(record.get("approvers") or []) if a.get("option")), None)
        ti = context["ti"]
        ti.xcom_push(key=CHOICE_XCOM, value=chosen)
        ti.xcom_push(
            key=NODE_XCOM,
            value={"node_id": self.process_node, "service": "", "entities": [], "calls": [], "choice": chosen},
        )
        return record


class ProcessDecisionOperator(BaseBranchOperator):
    """Follows the flows whose name is the option chosen upstream (WeCube), or whose BPMN condition
    holds with ``decision`` = that option; the default flow when none does. A dry run follows all."""

    ui_color = "#fde68a"

    def __init__(self, *, process_key: str, process_version: str, process_node: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.process_key, self.process_version, self.process_node = process_key, process_version, process_node

    def choose_branch(self, context: Context) -> list[str]:
        from airflow_wecube.processes.conditions import evaluate, parse_condition
        from airflow_wecube.processes.dag_shape import task_ids

        process = load_process(self.process_key, self.process_version)
        ids = task_ids(process)
        out = [e for e in process.edges if e.source == self.process_node]
        if bound(context).get("dry_run"):
            return [self._head(ids[e.target]) for e in out]
        chosen = None
        for up in sorted(self.upstream_task_ids):
            value = context["ti"].xcom_pull(task_ids=up, key=CHOICE_XCOM)
            if value:
                chosen = value
        taken = []
        for e in out:
            if e.condition:
                if evaluate(parse_condition(e.condition), {"decision": chosen}):
                    taken.append(e)
            elif e.name and e.name == chosen:
                taken.append(e)
        if not taken:
            taken = [e for e in out if e.default]
        if not taken:
            names = ", ".join(repr(e.name or e.condition) for e in out)
            raise AirflowFailException(f"decision {self.process_node}: option {chosen!r} matches no flow ({names})")
        node = process.node(self.process_node)
        if not node.inclusive:
            taken = taken[:1]
        self.log.info("decision %s: %r -> %s", self.process_node, chosen, ", ".join(ids[e.target] for e in taken))
        context["ti"].xcom_push(
            key=NODE_XCOM,
            value={"node_id": self.process_node, "service": "", "entities": [], "calls": [], "choice": chosen},
        )
        return [self._head(ids[e.target]) for e in taken]

    def _head(self, task_id: str) -> str:
        """The task a flow into ``task_id``'s node enters (its risk check, or its sub-process runs)."""
        return next((t for t in (f"{task_id}__risk_check", f"{task_id}__runs") if t in self.dag.task_dict), task_id)


def human_options(process, node) -> list[str]:
    """The decision links after a human node (the names of the flows leaving the decision it leads to)."""
    nxt = [e.target for e in process.edges if e.source == node.id]
    for target in nxt:
        if process.node(target).type == "decision":
            names = [e.name for e in process.edges if e.source == target and e.name]
            if names:
                return list(dict.fromkeys(names))
    return [DONE]


__all__ = ["CONTINUE", "DONE", "ProcessDecisionOperator", "ProcessHumanOperator", "human_options"]
