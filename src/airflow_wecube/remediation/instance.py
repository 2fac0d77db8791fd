"""The steps of ``wecube_remediate_instance``: triage the alerts, claim the targets, redeploy,
judge and record. Each step takes and returns plain entries (one dict per alert, JSON for XCom);
hooks and clocks are passed in, so the steps run the same under Airflow and in tests.

An entry: ``alertname``, ``status``, ``app``, ``job``, ``instance``, ``alert`` (the alert as
received), ``target`` (``<app>@<host>``), ``host``, ``version``, ``ci`` (the target's remediation
record guid), ``history`` (its last attempts), ``decision``, ``reason``; once acted ``action``,
``acted_at``, ``deployed``, ``deployed_at``, ``error``, ``up``, ``up_at``, ``outcome``, ``seconds_to_up``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_wecube.remediation import cmdb
from airflow_wecube.remediation.alerts import FIRING, Alert
from airflow_wecube.remediation.guard import ACT, BUSY, DRY_RUN, Decision, Policy, decide
from airflow_wecube.remediation.report import FAILED, FIXED, outcome_of

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook

#: attempts of a target's history shown in an entry (and so in the evidence)
HISTORY_SHOWN = 10


def _entry(alert: Alert, now: float) -> dict[str, Any]:
    return {
        "alertname": alert.name,
        "status": alert.status,
        "app": alert.app,
        "job": alert.job,
        "instance": alert.instance,
        "alert": alert.to_dict(),
        "target": None,
        "run_started": now,
    }


def _set(entry: dict[str, Any], decision: Decision) -> dict[str, Any]:
    entry.update(decision.to_dict())
    return entry


def triage(
    alerts: Sequence[Alert],
    *,
    hook: WeCubePluginHook,
    now: float,
    mode: str,
    policy: Policy,
    me: str,
    running: Callable[[str], bool | None],
    mode_problem: str | None = None,
    dry_run: bool = False,
    rollout: Callable[[str], str | None] | None = None,
) -> list[dict[str, Any]]:
    """Decide, for each alert, what this run does (see :func:`~.guard.decide`).

    :param rollout: the rollout of an app in progress, if any (:func:`rollouts_of`)
    """
    entries: list[dict[str, Any]] = []
    acting: set[str] = set()
    rolling = rollouts_of(rollout)
    for alert in alerts:
        entry = _entry(alert, now)
        found = cmdb.find_instance(hook, alert.app, alert.instance) if alert.app and alert.instance else None
        attempts: list[dict[str, Any]] = []
        busy_with = None
        if found:
            entry.update(target=found["target"], host=found["host"], version=found["version"])
            ci = cmdb.record(hook, found["target"], app=alert.app, host=found["host"], instance=alert.instance)
            attempts, busy_with = cmdb.history(entry, ci, me, running, HISTORY_SHOWN)
        decision = decide(
            alert,
            attempts,
            now=now,
            mode=mode,
            policy=policy,
            known=found is not None or alert.status != FIRING,
            busy_with=busy_with,
            mode_problem=mode_problem,
            dry_run=dry_run,
            rollout=rolling(alert.app) if found else None,
        )
        if decision.kind == ACT and found["target"] in acting:
            decision = Decision(BUSY, "this run already remediates this target for another alert")
        if decision.kind == ACT:
            acting.add(found["target"])
        if decision.kind == DRY_RUN and decision.would == ACT:
            entry["action"] = f"redeploy {alert.app} {found['version']} on {found['host']}"
        entries.append(_set(entry, decision))
    return entries


def claim(
    entries: Sequence[Mapping[str, Any]],
    *,
    hook: WeCubePluginHook,
    now: float,
    policy: Policy,
    me: str,
    running: Callable[[str], bool | None],
    mode: str,
    approval: str | None = None,
    describe: Callable[[Mapping[str, Any]], str] | None = None,
    rollout: Callable[[str], str | None] | None = None,
) -> list[dict[str, Any]]:
    """Take the lock of each target to act on and decide again on its fresh history (another run may
    have acted since the triage, a rollout may have started). Entries that lose become ``busy`` /
    ``rollout`` / ``cooldown`` / ...

    :param approval: in ``approve`` mode, why nothing acts when the person did not approve
    :param describe: the action in words for an entry (default: the redeploy of this runbook)
    :param rollout: the rollout of an app in progress, if any (:func:`rollouts_of`)
    """
    out = []
    rolling = rollouts_of(rollout)
    for entry in entries:
        entry = dict(entry)
        if entry.get("decision") != ACT:
            out.append(entry)
            continue
        if approval:
            entry.update(decision="rejected", reason=approval)
            out.append(entry)
            continue
        ci = {"guid": entry["ci"], "attributes": cmdb.read(hook, entry["ci"])}
        taken, holder, attributes = cmdb.claim(hook, ci, me, now=now, ttl=policy.lock_ttl, running=running)
        if not taken:
            out.append(_set(entry, Decision(BUSY, f"{holder} is remediating this target now")))
            continue
        alert = Alert(
            status=entry["status"],
            labels=entry["alert"]["labels"],
            fingerprint=entry["alert"]["fingerprint"],
            starts_at=entry["alert"]["startsAt"],
        )
        again = decide(
            alert,
            list(attributes.get("attempts") or []),
            now=now,
            mode=mode,
            policy=policy,
            rollout=rolling(entry["app"]),
        )
        if again.kind != ACT:
            cmdb.release(hook, entry["ci"], me)
        else:
            entry.update(locked=True, acted_at=now, action=(describe or _redeploy_action)(entry))
        out.append(_set(entry, again))
    return out


def rollouts_of(rollout: Callable[[str], str | None] | None) -> Callable[[str], str | None]:
    """``rollout`` asked once per app (the CMDB is read once per app and step); no ``rollout``: none."""
    seen: dict[str, str | None] = {}

    def rolling(app: str) -> str | None:
        if rollout is None or not app:
            return None
        if app not in seen:
            seen[app] = rollout(app)
        return seen[app]

    return rolling


def _redeploy_action(entry: Mapping[str, Any]) -> str:
    return f"redeploy {entry['app']} {entry['version']} on {entry['host']}"


def redeploy(
    entries: Sequence[Mapping[str, Any]], *, hook: WeCubePluginHook, request_id: str, clock: Callable[[], float]
) -> list[dict[str, Any]]:
    """One batched ``deploy/app/deploy`` of the same version on each target's host; each entry says
    whether its deploy went through and, if not, why."""
    from airflow_wecube.exceptions import WeCubePluginError

    out = [dict(e) for e in entries]
    acting = [e for e in out if e.get("decision") == ACT]
    if not acting:
        return out
    inputs = [
        {"callbackParameter": e["target"], "host": e["host"], "app": e["app"], "version": e["version"]} for e in acting
    ]
    try:
        outputs = hook.call("deploy/app/deploy", inputs, request_id=request_id).outputs
    except WeCubePluginError as ex:
        outputs = (
            ex.result.outputs
            if ex.result
            else [
                {"callbackParameter": i["callbackParameter"], "errorCode": "1", "errorMessage": str(ex)} for i in inputs
            ]
        )
    except Exception as ex:  # the plugin is unreachable: every redeploy failed, for the same reason
        outputs = [
            {"callbackParameter": i["callbackParameter"], "errorCode": "1", "errorMessage": str(ex)} for i in inputs
        ]
    by_target = {str(o.get("callbackParameter")): o for o in outputs}
    done = clock()
    for e in acting:
        o = by_target.get(e["target"]) or {"errorCode": "1", "errorMessage": "the deploy plugin gave no answer for it"}
        ok = str(o.get("errorCode", "0")) in ("0", "")
        e.update(deployed=ok, deployed_at=done, error=None if ok else f"redeploy failed: {o.get('errorMessage')}")
        if ok:
            e["pid"] = o.get("pid")
    return out


def gate_promql(entries: Sequence[Mapping[str, Any]]) -> tuple[str, int]:
    """The PromQL gate for the redeployed instances (``up``), and how many series it must see."""
    deployed = [e for e in entries if e.get("deployed")]
    if not deployed:
        return "", 0
    jobs = sorted({_regex(e["job"]) for e in deployed if e.get("job")})
    instances = "|".join(sorted(_regex(e["instance"]) for e in deployed))
    job = f'job=~"{"|".join(jobs)}", ' if jobs else ""
    return f'up{{{job}instance=~"{instances}"}}', len(deployed)


def _regex(value: str) -> str:
    """``value`` matched literally in a PromQL regex string (backslashes doubled for the string)."""
    return re.escape(value).replace("\\", "\\\\")


def judge(
    entries: Sequence[Mapping[str, Any]], up: Mapping[str, bool], *, now: float, gate_note: str = ""
) -> list[dict[str, Any]]:
    """Each acting entry's outcome from what Prometheus says now (``up`` per instance)."""
    out = []
    for e in entries:
        e = dict(e)
        if e.get("decision") == ACT:
            e["up"] = bool(e.get("deployed")) and bool(up.get(e["instance"]))
            e["outcome"] = outcome_of(e)
            if e["up"]:
                e["up_at"] = now
                e["seconds_to_up"] = round(now - float(e.get("run_started") or now), 3)
            elif e.get("deployed"):
                e["error"] = f"redeployed, but {e['instance']} is not up in Prometheus" + (
                    f": {gate_note}" if gate_note else ""
                )
        else:
            e["outcome"] = outcome_of(e)
        out.append(e)
    return out


def attempt(entry: Mapping[str, Any], me: str, now: float) -> dict[str, Any]:
    """What a target's history keeps of an entry."""
    keep = ("decision", "reason", "outcome", "action", "error", "acted_at", "up_at", "seconds_to_up")
    return {
        "at": entry.get("acted_at") or now,
        "run": me,
        "alert": Alert(
            status=entry["status"],
            labels=entry["alert"]["labels"],
            fingerprint=entry["alert"]["fingerprint"],
            starts_at=entry["alert"]["startsAt"],
        ).key,
        "status": entry["status"],
        **{k: entry[k] for k in keep if entry.get(k) is not None},
    }


def record(
    entries: Sequence[Mapping[str, Any]],
    *,
    hook: WeCubePluginHook,
    me: str,
    now: float,
    wait: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Give back the locks and append each entry to its target's history; ``(entries, problems)``.

    The CMDB may be away just then (its plugin killed mid-remediation and restarting): the entries it
    did not take are tried again, for up to ``wait`` seconds, so the attempt is recorded and the lock
    given back rather than left until it goes stale. Each step is safe to repeat (the release is a
    compare-and-set on our name, an attempt of this run and alert replaces the one recorded).
    """
    pending = [e for e in entries if e.get("ci")]
    deadline, delay = clock() + wait, 1.0
    while True:
        problems: list[str] = []
        failed = []
        for e in pending:
            try:
                # a compare-and-set on our name: also frees a lock ``claim`` took but could not report
                # (killed right after it), and is a no-op on a lock that is not ours
                cmdb.release(hook, e["ci"], me)
                ci = {"guid": e["ci"], "attributes": cmdb.read(hook, e["ci"])}
                cmdb.append(hook, ci, [attempt(e, me, now)])
            except cmdb.RecordError as ex:
                problems.append(str(ex))
                failed.append(e)
        left = deadline - clock()
        if not failed or left <= 0:
            return [dict(e) for e in entries], problems
        print(f"  the CMDB did not take {len(failed)} record(s), trying again for {left:.0f} s: {problems[0]}")
        sleep(min(delay, left))
        delay, pending = min(delay * 2, 15.0), failed


__all__ = ["FAILED", "FIXED", "attempt", "claim", "gate_promql", "judge", "record", "redeploy", "rollouts_of", "triage"]
