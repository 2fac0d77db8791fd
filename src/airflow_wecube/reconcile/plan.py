"""What a reconcile run does with each difference, under the guard rails the runbooks share.

Per difference: the strategy's action (:mod:`.strategies`), then the decision:

``act``      apply the action (with the kill switch on ``approve``, once a person approved)
``ask``      a person decides in Required Actions: the strategy says ``ask``; the kill switch is
             ``off`` (recorded and asked only); or more than ``max_changes`` would change in one run
             (then none of them acts). ``proposal`` is what would be applied on the person's yes.
``ignore``   the strategy says ``ignore``, or a person answered to leave it (``accepted``), or the
             difference is an instance of an app that a rollout is changing now (the next run looks again)
``dry_run``  a dry run: what would act is reported, nothing changes and nobody is asked
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_wecube.reconcile.differences import APP_INSTANCE, EXTRA, OK
from airflow_wecube.reconcile.strategies import ASK, CHANGING, DELETE, IGNORE, POSSIBLE, RECREATE, Strategies
from airflow_wecube.remediation.guard import APPROVE, OFF, VARIABLE

ACT, ASKED, IGNORED, DRY_RUN = "act", "ask", "ignore", "dry_run"
#: what a person is offered for a difference the strategy asks about, best first
PROPOSALS = (DELETE, RECREATE)


def _proposal(kind: str, cls: str, action: str) -> str | None:
    """What a person's yes applies: the strategy's changing action, else the removal an extra allows."""
    if action in CHANGING:
        return action
    possible = POSSIBLE.get(kind, {}).get(cls, frozenset())
    if cls == EXTRA:
        return next((a for a in PROPOSALS if a in possible), None)
    return next(iter(sorted(possible)), None)


def plan(
    rows: Iterable[Mapping[str, Any]],
    strategies: Strategies,
    *,
    mode: str,
    mode_problem: str | None = None,
    dry_run: bool = False,
    accepted: Iterable[str] = (),
    max_changes: int | None = None,
    rollouts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The run's entries (one per difference, in row order) and its totals.

    :param mode: the kill switch, ``on`` | ``approve`` | ``off`` (see ``remediation.guard.parse_mode``)
    :param accepted: keys of differences a person chose to leave as they are
    :param max_changes: overrides the strategies' limit (a run's param)
    :param rollouts: app -> the rollout of it in progress: its instances are the rollout's until it ends
    """
    accepted, rollouts = set(accepted), rollouts or {}
    limit = strategies.max_changes if max_changes is None else max_changes
    entries: list[dict[str, Any]] = []
    for r in rows:
        if r.get("status") == OK:
            continue
        kind, cls = r["kind"], r["status"]
        action = strategies.action(kind, cls)
        entry = {
            "key": r["key"],
            "kind": kind,
            "name": r["name"],
            "class": cls,
            "detail": r.get("detail", ""),
            "diff": r.get("diff") or [],
            "action": action,
            "row": dict(r),
        }
        if r["key"] in accepted:
            entry.update(decision=IGNORED, reason="a person chose to leave it as it is")
        elif kind == APP_INSTANCE and r.get("app") in rollouts:
            reason = f"a rollout of {r['app']} is in progress ({rollouts[r['app']]}): left to it until it ends"
            entry.update(decision=IGNORED, reason=reason)
        elif action == IGNORE:
            entry.update(decision=IGNORED, reason=f"strategy: {kind} {cls} -> ignore")
        elif action == ASK:
            entry.update(decision=ASKED, reason=f"strategy: {kind} {cls} -> ask", proposal=_proposal(kind, cls, action))
        elif mode == OFF:
            reason = mode_problem or f"automatic changes are off (Variable {VARIABLE}): recorded, a person is asked"
            entry.update(decision=ASKED, reason=reason, proposal=action)
        else:
            entry.update(decision=ACT, reason=f"strategy: {kind} {cls} -> {action}")
        entries.append(entry)
    acting = [e for e in entries if e["decision"] == ACT]
    if len(acting) > limit:
        for e in acting:
            e.update(
                decision=ASKED,
                proposal=e["action"],
                reason=f"{len(acting)} changes in one run, more than max_changes {limit}: a person decides",
            )
    if dry_run:
        for e in entries:
            if e["decision"] in (ACT, ASKED):
                would = e["decision"] if e["decision"] == ASKED else e["action"]
                e.update(decision=DRY_RUN, would=would, reason=f"dry run, nothing done; would {would}: {e['reason']}")
    totals = {d: sum(e["decision"] == d for e in entries) for d in (ACT, ASKED, IGNORED, DRY_RUN)}
    return {
        "entries": entries,
        "totals": totals,
        "mode": mode,
        "dry_run": dry_run,
        "max_changes": limit,
        "needs_approval": mode == APPROVE and totals[ACT] > 0 and not dry_run,
    }


def next_action(entry: Mapping[str, Any]) -> str:
    """What the next reconcile does, in words, for the page."""
    d = entry["decision"]
    if d == ACT:
        return entry["action"]
    if d == ASKED:
        return f"ask a person ({entry['proposal']} on yes)" if entry.get("proposal") else "ask a person"
    return d


__all__ = ["ACT", "ASKED", "DRY_RUN", "IGNORED", "next_action", "plan"]
