"""The tasks of ``wecube_reconcile`` (dags/wecube_reconcile.py), called with their ``ti``:
``plan`` -> (``approve``) -> ``apply`` -> (``ask``) -> ``resolve`` -> ``report``. Airflow is imported
inside the functions; the decisions are in :mod:`airflow_wecube.reconcile`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: XCom keys
PLAN, ENTRIES, EVIDENCE, PLAN_TEXT = "plan", "entries", "evidence", "plan_text"
DECISION = "decision"
APPLY, LEAVE = "Apply", "Leave it"


def _hook():
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    return WeCubePluginHook()


def _compare(ti: Any, hook, folder: Path) -> tuple[dict[str, Any], Any]:
    from airflow_wecube.orchestrations.reconcile import compare_now, load_inputs, prometheus_predict
    from airflow_wecube.remediation.airflow import run_is_active

    design, strategies = load_inputs(folder / "designs" / "network.yml", folder / "designs" / "strategies.yml")
    now = compare_now(
        hook, design, strategies, predict=prometheus_predict(folder / "capacity"), running=run_is_active(ti)
    )
    return now, strategies


def plan_task(ti: Any, params: Mapping[str, Any] | None, folder: Path) -> list[str]:
    """Compare, decide under the guard rails; XCom ``plan``. Branch: through ``approve`` when the kill
    switch says so and something would change."""
    from airflow_wecube.reconcile.plan import next_action, plan
    from airflow_wecube.remediation.airflow import kill_switch

    p = params or {}
    hook = _hook()
    now, strategies = _compare(ti, hook, folder)
    for e in now["errors"]:
        print(f"  ! {e}")
    rows = now["rows"]
    if any(r["kind"] == "vpc" and r["status"] == "missing" for r in rows):
        print("the designed VPC does not exist: the network was never built (run wecube_network_build); nothing to do")
        rows = []
    mode, problem = kill_switch()
    limit = p.get("max_changes")
    result = plan(
        rows,
        strategies,
        mode=mode,
        mode_problem=problem,
        dry_run=bool(p.get("dry_run")),
        accepted=now["accepted"],
        max_changes=None if limit is None else int(limit),
        rollouts=now["rollouts"],
    )
    result.update(errors=now["errors"], desired=now["desired"], state=now["state"])
    text = "\n".join(
        f"- {e['kind']} `{e['name']}`: {e['class']} -> **{next_action(e)}** ({e['reason']})" for e in result["entries"]
    )
    for line in text.splitlines() or ["nothing differs"]:
        print(line)
    ti.xcom_push(key=PLAN, value=result)
    ti.xcom_push(key=PLAN_TEXT, value=text or "nothing differs")
    return ["approve", "apply"] if result["needs_approval"] else ["apply"]


def _register(job: str, targets: list[str], labels: dict[str, str]) -> None:
    from airflow_wecube.hooks.prometheus import PrometheusHook

    PrometheusHook().register_targets(job, targets, labels, confirm=False)


def _apply(ti: Any, task: str, entries: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    from airflow_wecube.operators.plugin import stable_request_id
    from airflow_wecube.orchestrations.reconcile import hook_caller
    from airflow_wecube.reconcile.execute import apply
    from airflow_wecube.reconcile.report import with_after

    hook = _hook()
    done, calls = apply(
        entries, hook_caller(hook), request_id=stable_request_id(ti.dag_id, ti.run_id, task, -1), register=_register
    )
    for c in calls:
        print(f"  {c['service']}: {c['items']} item(s), requestId {c['request_id']}")
    after, _ = _compare(ti, hook, folder)  # reality read again
    return with_after(done, after["rows"])


def apply_task(ti: Any, folder: Path) -> list[str]:
    """Apply what acts (one batched call per kind and action), read reality again; XCom ``entries``
    and, when a person must decide, ``evidence``. Branch: through ``ask`` then."""
    from airflow_wecube.reconcile.plan import ACT, ASKED
    from airflow_wecube.reconcile.report import evidence, line

    planned = ti.xcom_pull(task_ids="plan", key=PLAN)
    entries = planned["entries"]
    if planned["needs_approval"]:
        decision = ti.xcom_pull(task_ids="approve", key=DECISION) or {}
        if decision.get("decision") != "approved":
            why = f"not approved ({decision.get('decision') or 'no answer'})"
            entries = [
                {**e, "decision": ASKED, "proposal": e["action"], "reason": why} if e["decision"] == ACT else e
                for e in entries
            ]
    entries = _apply(ti, "apply", entries, folder) if entries else []
    for e in entries:
        print("  " + line(e))
    ti.xcom_push(key=ENTRIES, value=entries)
    asked = [e for e in entries if e["decision"] == ASKED]
    ti.xcom_push(key=EVIDENCE, value=evidence(entries) if asked else "")
    return ["ask", "resolve"] if asked else ["resolve"]


def resolve_task(ti: Any, folder: Path) -> list[dict[str, Any]]:
    """After a person's answer: ``Apply`` carries out the proposals, ``Leave it`` remembers the
    differences as accepted (the reconcile stops asking). XCom ``entries``: the run's final list."""
    import time

    from airflow_wecube.orchestrations.reconcile import accept
    from airflow_wecube.reconcile.plan import ACT, ASKED

    entries = ti.xcom_pull(task_ids="apply", key=ENTRIES)
    if entries is None:
        return []
    decision = ti.xcom_pull(task_ids="ask", key=DECISION) or {}
    asked = [e for e in entries if e["decision"] == ASKED]
    by = ", ".join(a.get("by", "?") for a in decision.get("approvers") or []) or "nobody"
    if asked and decision.get("decision") == "approved":
        rows = {e["key"]: e["row"] for e in ti.xcom_pull(task_ids="plan", key=PLAN)["entries"]}
        todo = [
            {**e, "decision": ACT, "action": e["proposal"], "row": rows[e["key"]]} for e in asked if e.get("proposal")
        ]
        done = {e["key"]: {**e, "reason": f"{by} answered {APPLY}"} for e in _apply(ti, "resolve", todo, folder)}
        entries = [done.get(e["key"], e) for e in entries]
    elif asked and decision.get("decision") == "rejected" and not decision.get("timed_out"):
        planned = ti.xcom_pull(task_ids="plan", key=PLAN)
        keys = [e["key"] for e in asked]
        accept(_hook(), planned.get("state"), keys, {"by": by, "at": time.time(), "run": ti.run_id})
        entries = [
            {**e, "decision": "ignore", "reason": f"{by} answered {LEAVE}: accepted as it is"} if e in asked else e
            for e in entries
        ]
    ti.xcom_push(key=ENTRIES, value=entries)
    return entries


def report_task(ti: Any) -> str:
    """The run's message (XCom ``message``, shown on *Loop actions*); the run fails when a fix failed."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_wecube.orchestrations.failures import MESSAGE_XCOM_KEY
    from airflow_wecube.reconcile.execute import FAILED
    from airflow_wecube.reconcile.report import message

    planned = ti.xcom_pull(task_ids="plan", key=PLAN)
    entries = ti.xcom_pull(task_ids="resolve", key=ENTRIES)
    if planned is None or entries is None:
        text = "the reconcile could not finish (plan, apply or resolve failed): see their logs"
        ti.xcom_push(key=MESSAGE_XCOM_KEY, value=text)
        raise AirflowFailException(text)
    decision = ti.xcom_pull(task_ids="ask", key=DECISION) or {}
    answer = ", ".join(f"{a.get('by')}: {a.get('option')}" for a in decision.get("approvers") or []) or None
    text = message(entries, dry_run=planned["dry_run"], answer=answer)
    print(text)
    ti.xcom_push(key=MESSAGE_XCOM_KEY, value=text)
    if any(e.get("outcome") == FAILED for e in entries):
        raise AirflowFailException(text)
    return text


__all__ = ["apply_task", "plan_task", "report_task", "resolve_task"]
