"""What every runbook run does around its own action, shared by the runbook DAGs: ``triage``
(the alerts, the kill switch, the branch; the runbook's own decision passed in), ``claim`` (the
locks), ``finish`` (expire the silences, give the locks back, judge each fix from Prometheus, record
everything, say whether a person must act) and ``report`` (the run's message; the run fails when it
escalated). Called from the DAGs' tasks with their ``ti``; Airflow is imported inside the functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: XCom keys of ``finish``: the entries, the escalation summary, the inbox request's body
ENTRIES, SUMMARY, EVIDENCE = "remediation", "summary", "evidence"
#: where an ApprovalSensor keeps its decision, also when a rejection skips it
#: (``airflow_wecube.sensors.approval.DECISION_XCOM_KEY``)
DECISION = "decision"


#: seconds ``finish`` keeps trying to record the attempts and give the locks back while the CMDB does
#: not answer (its plugin killed mid-remediation and restarting), before it escalates saying so
RECORD_WAIT = 300.0


def policy(params: Mapping[str, Any] | None):
    """The guard rails' numbers from the DAG's params."""
    from airflow_wecube.remediation.guard import Policy

    p = params or {}
    return Policy(cooldown=p["cooldown"], flap_limit=p["flap_limit"], flap_window=p["flap_window"])


def approval_note(ti: Any, triaged: Mapping[str, Any]) -> str | None:
    """In ``approve`` mode, why nothing may act (the person did not approve); ``None`` otherwise."""
    if triaged["mode"] != "approve" or not any(e["decision"] == "act" for e in triaged["entries"]):
        return None
    decision = ti.xcom_pull(task_ids="approve", key=DECISION) or {}
    if decision.get("decision") == "approved":
        return None
    who = ", ".join(a.get("by", "?") for a in decision.get("approvers") or []) or "nobody"
    return f"not approved ({decision.get('decision') or 'no answer'}, by {who})"


def rollout_check(hook: Any, running: Callable[[str], bool | None]) -> Callable[[str], str | None]:
    """For the runbooks' decisions: the rollout of an app in progress (its CMDB lock), if any; a runbook
    neither redeploys nor adds an instance of an app that rolls out (issue 25: one change at a time)."""
    import time

    from airflow_wecube.orchestrations.rollout_lock import in_progress

    return lambda app: in_progress(hook, app, now=time.time(), running=running)


def triaged_branch(ti: Any, entries: list[dict[str, Any]], *, mode: str, ignored: list[str], plan: str) -> list[str]:
    """``triage``'s end: its XComs (``plan`` for the approver, ``triaged``) and the branch: straight to
    ``finish`` when nothing acts, through ``approve`` when the kill switch says so."""
    ti.xcom_push(key="plan", value=plan or "no alert")
    ti.xcom_push(key="triaged", value={"mode": mode, "entries": entries, "ignored": ignored})
    if not any(e["decision"] == "act" for e in entries):
        return ["finish"]
    return ["approve", "claim", "finish"] if mode == "approve" else ["claim", "finish"]


def triage_run(
    ti: Any,
    params: Mapping[str, Any] | None,
    triggering_asset_events: Mapping[Any, Any] | None,
    decide: Callable[..., list[dict[str, Any]]],
    *,
    describe: Callable[[dict[str, Any]], str],
    plan_line: Callable[[dict[str, Any]], str],
    **extra: Any,
) -> list[str]:
    """``triage`` of a runbook: the run's alerts and the kill switch, then ``decide`` (its own triage, e.g.
    :func:`~airflow_wecube.remediation.instance.triage`) with the guard rails, the lock holder and
    ``extra``; each entry logged (``describe``), the plan for the approver (``plan_line``), the branch.

    Called by every runbook DAG's ``triage`` task with its ``ti``; Airflow is imported inside.
    """
    import time

    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.remediation.airflow import holder_name, kill_switch, run_alerts, run_is_active

    hook, running = WeCubePluginHook(), run_is_active(ti)
    alerts, ignored = run_alerts(triggering_asset_events)
    for p in ignored:
        print(f"  ignored: {p}")
    mode, mode_problem = kill_switch()
    print(f"{len(alerts)} alert(s); wecube_auto_remediation = {mode}" + (f" ({mode_problem})" if mode_problem else ""))
    entries = decide(
        alerts,
        hook=hook,
        now=time.time(),
        mode=mode,
        mode_problem=mode_problem,
        policy=policy(params),
        me=holder_name(ti.dag_id, ti.run_id),
        running=running,
        dry_run=bool((params or {}).get("dry_run")),
        rollout=rollout_check(hook, running),
        **extra,
    )
    for e in entries:
        print(f"  {describe(e)}")
    plan = "\n".join(f"- {plan_line(e)}" for e in entries)
    return triaged_branch(ti, entries, mode=mode, ignored=ignored, plan=plan)


def claim_run(ti: Any, params: Mapping[str, Any] | None, describe=None) -> list[dict[str, Any]]:
    """``claim``: lock each target triage acts on (one remediation per target at a time, across runs and
    workers) and decide again on its fresh history (:func:`~.instance.claim`)."""
    import time

    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.remediation import instance
    from airflow_wecube.remediation.airflow import holder_name, run_is_active

    hook, running = WeCubePluginHook(), run_is_active(ti)
    triaged = ti.xcom_pull(task_ids="triage", key="triaged")
    entries = instance.claim(
        triaged["entries"],
        hook=hook,
        now=time.time(),
        policy=policy(params),
        me=holder_name(ti.dag_id, ti.run_id),
        running=running,
        mode=triaged["mode"],
        approval=approval_note(ti, triaged),
        describe=describe,
        rollout=rollout_check(hook, running),
    )
    for e in entries:
        print(f"  {e.get('target') or e['instance']}: {e['decision']}: {e['reason']}")
    return entries


def finish_run(ti: Any, *, act_task: str, steps: Sequence[str], silence_task: str | None = None) -> list[str]:
    """``finish``: the branch to take (``escalate`` too when a person must act).

    :param act_task: the task that acted (XCom ``entries``)
    :param steps: the tasks whose failure the record names (``gate_up``'s failure is the fix's outcome)
    """
    import time

    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.hooks.prometheus import PrometheusHook
    from airflow_wecube.orchestrations.failures import FAILURE_XCOM_KEY
    from airflow_wecube.remediation import instance, report
    from airflow_wecube.remediation.airflow import expire_silences, holder_name

    me = holder_name(ti.dag_id, ti.run_id)
    failures = {r["task"]: r["error"] for r in ti.xcom_pull(task_ids=list(steps), key=FAILURE_XCOM_KEY) or [] if r}
    entries = ti.xcom_pull(task_ids=act_task, key="entries") or ti.xcom_pull(task_ids="claim") or []
    if not entries:
        entries = (ti.xcom_pull(task_ids="triage", key="triaged") or {}).get("entries") or []
    problems = [f"{t} failed: {e}" for t, e in failures.items() if t != "gate_up"]
    ids = (ti.xcom_pull(task_ids=silence_task) if silence_task else None) or {}
    if ids:
        problems += expire_silences(ids)
    up: dict[str, bool] = {}
    if any(e.get("deployed") for e in entries):
        promql, _ = instance.gate_promql(entries)
        try:
            up = {s["labels"].get("instance"): s["value"] == 1 for s in PrometheusHook().query(promql)}
        except Exception as e:
            problems.append(f"could not ask Prometheus whether the instances are up: {e}")
    entries = instance.judge(entries, up, now=time.time(), gate_note=failures.get("gate_up", ""))
    entries, record_problems = instance.record(
        entries, hook=WeCubePluginHook(), me=me, now=time.time(), wait=RECORD_WAIT
    )
    problems += record_problems
    reasons = report.escalation_reasons(entries) + problems
    ti.xcom_push(key=ENTRIES, value=entries)
    ti.xcom_push(key=EVIDENCE, value=report.evidence_markdown(entries, reasons) if reasons else "")
    for e in entries:
        said, where = e.get("error") or e["reason"], e["instance"] or e.get("target")
        print(f"  {e['alertname']} on {where}: {e['decision']} -> {e.get('outcome')}: {said}")
    targets = sorted({e.get("target") or e["instance"] or e["alertname"] for e in entries})
    ti.xcom_push(key=SUMMARY, value={"escalate": reasons, "targets": targets})
    for r in reasons:
        print(f"  escalating: {r}")
    return ["escalate", "report"] if reasons else ["report"]


def report_run(ti: Any) -> str:
    """``report``: the run's message (XCom ``message``); fails the run, saying why, when it escalated."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_wecube.orchestrations.failures import MESSAGE_XCOM_KEY
    from airflow_wecube.remediation.report import final_message

    summary = ti.xcom_pull(task_ids="finish", key=SUMMARY)
    entries = ti.xcom_pull(task_ids="finish", key=ENTRIES) or []
    if summary is None:
        message = "the runbook could not record what it did (finish failed): see its log"
        ti.xcom_push(key=MESSAGE_XCOM_KEY, value=message)
        raise AirflowFailException(message)
    answer = None
    decision = ti.xcom_pull(task_ids="escalate", key=DECISION)
    if decision:
        by = ", ".join(
            f"{a.get('by')}: {a.get('option')}" + (f" ({a['comment']})" if a.get("comment") else "")
            for a in decision.get("approvers") or []
        )
        answer = by or decision.get("decision")
    message = final_message(entries, summary["escalate"], answer)
    print(message)
    ti.xcom_push(key=MESSAGE_XCOM_KEY, value=message)
    if summary["escalate"]:
        raise AirflowFailException(message)
    return message


__all__ = [
    "ENTRIES",
    "EVIDENCE",
    "SUMMARY",
    "approval_note",
    "finish_run",
    "policy",
    "report_run",
    "rollout_check",
    "triage_run",
]
