"""The guard rails every runbook shares, as pure decisions over a target's history.

A *target* is what a remediation changes (an app instance ``<app>@<host>``, or an app for a scale-out).
Its history (the attempts, newest last) and its lock live in the CMDB (:mod:`.cmdb`), so every run,
on every worker, sees the same. What a run decides for one alert, in this order:

``resolved``        the alert ended: recorded, nothing to do
``duplicate``       this firing episode (fingerprint, startsAt) was handled already: nothing to do
``unknown_target``  the alert names an instance the CMDB does not know: a person is asked
``off``             the kill switch (Variable ``wecube_auto_remediation``) is ``off`` or not understood:
                    recorded and a person is asked
``rollout``         a rollout of the target's app is in progress (its CMDB lock): acting now would change
                    what the rollout deploys and measures, a person is asked
``busy``            another run is remediating this target now: that run handles it
``flapping``        the target needed fixing ``flap_limit`` times within ``flap_window``: fixing it again
                    would only loop, a person is asked
``cooldown``        the target was acted on less than ``cooldown`` seconds ago: not again, a person is asked
``act``             remediate (in ``approve`` mode after a person approved)

With ``dry_run`` the decision is computed the same way but nothing acts and nobody is asked (``dry_run``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_wecube.remediation.alerts import RESOLVED, Alert

#: the Airflow Variable of the kill switch
VARIABLE = "wecube_auto_remediation"
ON, APPROVE, OFF = "on", "approve", "off"
MODES = (ON, APPROVE, OFF)

ACT, RESOLVED_ALERT, DUPLICATE, UNKNOWN, KILLED, ROLLOUT, BUSY, FLAPPING, COOLDOWN, DRY_RUN = (
    "act",
    "resolved",
    "duplicate",
    "unknown_target",
    "off",
    "rollout",
    "busy",
    "flapping",
    "cooldown",
    "dry_run",
)
#: a scale-out that would go past the most instances the runbook may run
AT_LIMIT = "at_limit"
#: decisions that leave a firing alert to a person (a request in the Required Actions inbox)
ESCALATING = frozenset({UNKNOWN, KILLED, ROLLOUT, FLAPPING, COOLDOWN, AT_LIMIT})
#: how many attempts a target's history keeps
HISTORY_KEEP = 50


@dataclass(frozen=True)
class Policy:
    """The guard rails' numbers (seconds)."""

    cooldown: float = 300.0
    flap_limit: int = 3
    flap_window: float = 3600.0
    #: a lock older than this is stale even if its run still looks alive
    lock_ttl: float = 1800.0

    def __post_init__(self) -> None:
        if self.cooldown < 0 or self.flap_window <= 0 or self.lock_ttl <= 0:
            raise ValueError(f"cooldown >= 0, flap_window > 0 and lock_ttl > 0 seconds, got {self}")
        if self.flap_limit < 1:
            raise ValueError(f"flap_limit must be at least 1, got {self.flap_limit}")


@dataclass(frozen=True)
class Decision:
    kind: str
    reason: str
    #: in a dry run, what the run would have decided
    would: str = ""

    @property
    def acts(self) -> bool:
        return self.kind == ACT

    @property
    def escalates(self) -> bool:
        return self.kind in ESCALATING

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.kind, "reason": self.reason, **({"would": self.would} if self.would else {})}


def parse_mode(value: Any) -> tuple[str, str | None]:
    """The kill switch's mode from the Variable's value: ``(mode, problem)``.

    Unset means ``on``. A value that is none of ``on``/``approve``/``off`` is a mistake nobody should
    find out from a remediation that ran: it counts as ``off`` and ``problem`` says so (the run
    escalates with it)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ON, None
    mode = str(value).strip().lower()
    if mode in MODES:
        return mode, None
    return OFF, (
        f"Variable {VARIABLE} is {value!r}: it must be one of {', '.join(MODES)}; "
        "nothing is remediated automatically until it is fixed"
    )


def acted_since(attempts: Sequence[Mapping[str, Any]], since: float) -> list[Mapping[str, Any]]:
    """The attempts that acted on the target at or after ``since`` (epoch seconds)."""
    return [a for a in attempts if a.get("decision") == ACT and float(a.get("at") or 0) >= since]


def decide(
    alert: Alert,
    attempts: Sequence[Mapping[str, Any]],
    *,
    now: float,
    mode: str,
    policy: Policy,
    known: bool = True,
    busy_with: str | None = None,
    mode_problem: str | None = None,
    dry_run: bool = False,
    rollout: str | None = None,
) -> Decision:
    """What to do for ``alert`` on a target with history ``attempts`` (see the module docstring).

    :param known: whether the CMDB knows the alert's target
    :param busy_with: the run that holds the target's lock now (another run), if any
    :param rollout: the rollout of the target's app in progress (who, which version, since when), if any
    """
    decision = _decide(alert, attempts, now, mode, policy, known, busy_with, mode_problem, rollout)
    if dry_run and decision.kind not in (RESOLVED_ALERT, DUPLICATE):
        return Decision(DRY_RUN, f"dry run, nothing done; would {decision.kind}: {decision.reason}", decision.kind)
    return decision


def _decide(alert, attempts, now, mode, policy, known, busy_with, mode_problem, rollout) -> Decision:
    if alert.status == RESOLVED:
        return Decision(RESOLVED_ALERT, f"the alert resolved at {alert.ends_at or 'an unknown time'}")
    seen = [a for a in attempts if a.get("alert") == alert.key and a.get("decision") != DRY_RUN]
    if seen:
        first = seen[0]
        return Decision(DUPLICATE, f"this alert ({alert.key}) was handled already by {first.get('run')}")
    if not known:
        return Decision(UNKNOWN, f"the CMDB has no instance {alert.instance!r} of app {alert.app!r}")
    if mode == OFF:
        return Decision(KILLED, mode_problem or f"automatic remediation is off (Variable {VARIABLE})")
    if rollout:
        return Decision(
            ROLLOUT, f"a rollout of {alert.app} is in progress ({rollout}): acting now would change what it deploys"
        )
    if busy_with:
        return Decision(BUSY, f"{busy_with} is remediating this target now")
    recent = acted_since(attempts, now - policy.flap_window)
    if len(recent) >= policy.flap_limit - 1 and policy.flap_limit > 1:
        return Decision(
            FLAPPING,
            f"the target needed fixing {len(recent) + 1} times within {_span(policy.flap_window)} "
            f"(limit {policy.flap_limit}): fixing it again would only loop",
        )
    last = max((float(a.get("at") or 0) for a in acted_since(attempts, now - policy.cooldown)), default=None)
    if last is not None:
        return Decision(
            COOLDOWN,
            f"acted on {now - last:.0f} s ago, inside the cooldown of {_span(policy.cooldown)}: not acting again",
        )
    return Decision(ACT, "redeploy" if mode == ON else "redeploy, once approved")


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        n = int(seconds // 3600)
        return f"{n} hour" + ("s" if n > 1 else "")
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


# -- the lock: at most one remediation per target at a time ------------------------------------


FREE, MINE, HELD, STALE = "free", "mine", "held", "stale"


def lock_state(attributes: Mapping[str, Any], me: str, *, now: float, holder_running: bool | None) -> str:
    """Who holds a target's lock: ``free``, ``mine``, ``held`` (by a live run) or ``stale``.

    :param holder_running: whether the holding run is still queued or running (``None``: unknown);
        a lock whose run ended, or older than its ``holder_until``, is stale and may be taken over
    """
    holder = attributes.get("holder")
    if not holder:
        return FREE
    if holder == me:
        return MINE
    if holder_running is False or float(attributes.get("holder_until") or 0) < now:
        return STALE
    return HELD


def lock_claim(attributes: Mapping[str, Any], me: str, *, now: float, ttl: float) -> tuple[dict, dict]:
    """The compare-and-set that takes the lock: ``(expected, attributes)`` for ``cmdb/ci/update``."""
    return {"holder": attributes.get("holder")}, {"holder": me, "holder_since": now, "holder_until": now + ttl}


def lock_release(me: str) -> tuple[dict, dict]:
    """The compare-and-set that gives the lock back (only while ``me`` holds it)."""
    return {"holder": me}, {"holder": None, "holder_since": None, "holder_until": None}


def with_attempts(attributes: Mapping[str, Any], new: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    """The compare-and-set that appends ``new`` attempts: ``(expected, attributes)``; the revision
    makes two runs that append at once both keep theirs (one retries). An attempt of the same run and
    alert replaces the one recorded (a retried task records once)."""
    revision = attributes.get("revision")
    keys = {(a.get("run"), a.get("alert")) for a in new}
    kept = [a for a in attributes.get("attempts") or [] if (a.get("run"), a.get("alert")) not in keys]
    attempts = [*kept, *new][-HISTORY_KEEP:]
    return {"revision": revision}, {"revision": (revision or 0) + 1, "attempts": attempts}


__all__ = [
    "ACT",
    "APPROVE",
    "AT_LIMIT",
    "BUSY",
    "COOLDOWN",
    "DRY_RUN",
    "DUPLICATE",
    "ESCALATING",
    "FLAPPING",
    "FREE",
    "HELD",
    "KILLED",
    "MINE",
    "MODES",
    "OFF",
    "ON",
    "RESOLVED_ALERT",
    "ROLLOUT",
    "STALE",
    "UNKNOWN",
    "VARIABLE",
    "Decision",
    "Policy",
    "acted_since",
    "decide",
    "lock_claim",
    "lock_release",
    "lock_state",
    "parse_mode",
    "with_attempts",
]
