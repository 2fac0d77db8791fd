"""One rollout per app at a time: a lock in the CMDB, taken by the rollout's first task.

Two rollouts of one app on the same hosts undo each other: one run's rollback puts the other's
unreleased version back, the other's probe measures a canary that changes under it. So the first
task of ``wecube_app_rollout`` takes the app's lock (a ``rollout_lock`` CI named after the app,
attribute ``holder`` = ``<dag_id>/<run_id>``, set by compare-and-set) before it creates anything,
and a second run of the same app is *refused* at once with the run that holds the lock in its
message (trigger it again once that run ended). The lock is given back when the run ends; a lock
whose run ended (failed, killed, deleted) or that is older than :data:`LOCK_TTL` is taken over.
The rules of the lock are the runbooks' (:mod:`airflow_wecube.remediation.guard`), and the two look
at each other: the runbooks do not redeploy or add instances of an app while it rolls out
(:func:`in_progress`), and a rollout does not start while a runbook acts on one of the app's instances
(:func:`remediating`). Each takes its own lock first and then reads the other's, so of two that start
together at least one sees the other.

No Airflow import: the hook and the "is that run still active" check are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_wecube.remediation.cmdb import compare_and_set
from airflow_wecube.remediation.guard import FREE, HELD, MINE, STALE, lock_claim, lock_release, lock_state

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook

LOCK_CI = "rollout_lock"
#: a lock older than this is stale even if its run still looks alive (a run waits 8 h at most per approval)
LOCK_TTL = 24 * 3600.0
#: compare-and-set attempts before giving up (each conflict means another run wrote in between)
CAS_RETRIES = 8


class RolloutBusy(RuntimeError):
    """Another run of the same app holds the lock; the message names it."""


class LockError(RuntimeError):
    """The CMDB could not be read or written."""


def _ci(hook: WeCubePluginHook, app: str, create: bool) -> dict[str, Any] | None:
    try:
        if create:
            out = hook.call("cmdb/ci/create", {"callbackParameter": app, "type": LOCK_CI, "name": app}).outputs[0]
            return {"guid": out["guid"], "attributes": out.get("attributes") or {}}
        items = hook.call("cmdb/ci/query", {"callbackParameter": app, "type": LOCK_CI, "name": app}).outputs[0]
    except Exception as e:
        raise LockError(f"could not read the rollout lock of {app} from the CMDB: {e}") from None
    found = items.get("items") or []
    return found[0] if found else None


def _cas(hook: WeCubePluginHook, guid: str, expected: Mapping, attributes: Mapping) -> dict[str, Any] | None:
    """One compare-and-set (the runbooks' own): the new attributes, or ``None`` when another run wrote first."""
    return compare_and_set(hook, guid, expected, attributes, error=LockError, what="the rollout lock")


def holding(attributes: Mapping[str, Any]) -> str:
    """The run holding a lock, its version and since when, in words."""
    since = attributes.get("holder_since")
    when = datetime.fromtimestamp(float(since), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if since else "?"
    version = f" of version {attributes['version']}" if attributes.get("version") else ""
    return f"{attributes.get('holder')}{version}, since {when}"


def busy_message(app: str, attributes: Mapping[str, Any]) -> str:
    """Why a second rollout of ``app`` is refused: the run holding the lock, its version and since when."""
    return (
        f"another rollout of {app} is in progress: {holding(attributes)}; "
        "one rollout per app at a time, this run changed nothing: trigger it again once that run ended"
    )


def in_progress(hook: WeCubePluginHook, app: str, *, now: float, running: Callable[[str], bool | None]) -> str | None:
    """The rollout of ``app`` in progress (:func:`holding`), or ``None`` (no lock, or a stale one).

    :raises LockError: the CMDB cannot be read (a runbook then acts on nothing it cannot check)
    """
    ci = _ci(hook, app, create=False)
    return held_by((ci or {}).get("attributes") or {}, now=now, running=running)


def held_by(attributes: Mapping[str, Any], *, now: float, running: Callable[[str], bool | None] | None) -> str | None:
    """The live run holding a lock with ``attributes`` (:func:`holding`), or ``None`` (free or stale).

    :param running: whether a holder's run is still active; ``None``: unknown (held until its TTL)
    """
    holder = attributes.get("holder")
    if not holder:
        return None
    state = lock_state(attributes, "", now=now, holder_running=running(holder) if running else None)
    return holding(attributes) if state == HELD else None


def claim(
    hook: WeCubePluginHook,
    app: str,
    me: str,
    *,
    version: str,
    now: float,
    running: Callable[[str], bool | None],
    ttl: float = LOCK_TTL,
) -> dict[str, Any]:
    """Take the app's rollout lock for the run ``me``; the lock's attributes.

    :raises RolloutBusy: a live run holds it
    :raises LockError: the CMDB cannot be read or written
    """
    ci = _ci(hook, app, create=True)
    assert ci is not None
    attributes = dict(ci["attributes"])
    for _ in range(CAS_RETRIES):
        holder = attributes.get("holder")
        state = lock_state(attributes, me, now=now, holder_running=running(holder) if holder else None)
        if state == MINE:
            return _unless_remediating(hook, app, me, attributes, now=now, running=running)
        if state == HELD:
            raise RolloutBusy(busy_message(app, attributes))
        assert state in (FREE, STALE)
        expected, change = lock_claim(attributes, me, now=now, ttl=ttl)
        done = _cas(hook, ci["guid"], expected, {**change, "version": version})
        if done is not None:
            return _unless_remediating(hook, app, me, done, now=now, running=running)
        attributes = (_ci(hook, app, create=False) or {}).get("attributes") or {}
    raise LockError(f"could not take the rollout lock of {app}: {CAS_RETRIES} other writes came first")


def _unless_remediating(
    hook: WeCubePluginHook, app: str, me: str, taken: dict[str, Any], *, now: float, running: Callable
) -> dict[str, Any]:
    """The lock just taken, or given back and refused while a runbook acts on the app."""
    try:
        acting = remediating(hook, app, now=now, running=running)
    except LockError:
        release(hook, app, me)
        raise
    if acting:
        release(hook, app, me)
        raise RolloutBusy(
            f"a runbook is acting on {app} now: {acting}; a rollout would deploy under it, this run "
            "changed nothing: trigger it again once that run ended"
        )
    return taken


def remediating(hook: WeCubePluginHook, app: str, *, now: float, running: Callable[[str], bool | None]) -> str | None:
    """The runbook run acting on an instance of ``app`` now, and on which (its remediation lock, see
    :mod:`airflow_wecube.remediation.cmdb`), or ``None``.

    :raises LockError: the CMDB cannot be read
    """
    from airflow_wecube.remediation import cmdb
    from airflow_wecube.remediation.scale import scale_target

    try:
        apps = cmdb.query(hook, "app", app)
        hosts = [i.get("host") for i in (apps[0]["attributes"].get("instances") or [])] if apps else []
        for target in [f"{app}@{h}" for h in hosts if h] + [scale_target(app)]:
            for ci in cmdb.query(hook, cmdb.REMEDIATION_CI, target):
                attributes = ci.get("attributes") or {}
                if held_by(attributes, now=now, running=running):
                    return f"{attributes['holder']} on {target}"
    except cmdb.RecordError as e:
        raise LockError(f"could not read the runbooks' locks of {app}: {e}") from None
    return None


def release(hook: WeCubePluginHook, app: str, me: str) -> bool:
    """Give the lock back; ``False`` when ``me`` did not hold it (never taken, or taken over)."""
    ci = _ci(hook, app, create=False)
    if ci is None or (ci.get("attributes") or {}).get("holder") != me:
        return False
    expected, change = lock_release(me)
    return _cas(hook, ci["guid"], expected, {**change, "version": None}) is not None


__all__ = [
    "LOCK_CI",
    "LOCK_TTL",
    "LockError",
    "RolloutBusy",
    "busy_message",
    "claim",
    "held_by",
    "holding",
    "in_progress",
    "release",
    "remediating",
]
