"""A target's remediation record in the CMDB: its history of attempts and its lock.

One CI of type ``remediation`` per target (name ``<app>@<host>`` for an instance), with attributes
``app``, ``host``, ``instance``, ``attempts`` (newest last), ``revision``, and while a run acts
``holder`` (``<dag_id>/<run_id>``), ``holder_since``, ``holder_until``. Every write is a
compare-and-set (``cmdb/ci/update`` with ``expected``), so two runs never both take the lock and
never lose each other's attempts. The hook is passed in: no Airflow import here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_wecube.remediation.guard import (
    FREE,
    HELD,
    MINE,
    STALE,
    lock_claim,
    lock_release,
    lock_state,
    with_attempts,
)

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook

REMEDIATION_CI = "remediation"
#: how a refused compare-and-set starts its message (the sandbox CMDB's ``cmdb.CONFLICT``)
CONFLICT = "conflict"
#: attempts to append before giving up (each conflict means another run wrote in between)
CAS_RETRIES = 8


class RecordError(RuntimeError):
    """The CMDB could not be read or written."""


def find_instance(hook: WeCubePluginHook, app: str, instance: str) -> dict[str, Any] | None:
    """The instance ``instance`` (``host:port``, Prometheus's ``instance`` label) of ``app`` as the
    rollout recorded it (the app CI: version and instances), with its ``target`` name; ``None`` when
    the CMDB does not know it."""
    items = query(hook, "app", app)
    if not items:
        return None
    attrs = items[0]["attributes"]
    for inst in attrs.get("instances") or []:
        if inst.get("target") == instance:
            return {
                "app": app,
                "host": inst["host"],
                "instance": instance,
                "version": attrs.get("version"),
                "app_instance_guid": inst.get("guid"),
                "target": f"{app}@{inst['host']}",
            }
    return None


def query(hook: WeCubePluginHook, ci_type: str, name: str) -> list[dict[str, Any]]:
    """The CIs of ``ci_type`` named ``name`` (:class:`RecordError` when the CMDB cannot be read)."""
    try:
        out = hook.call("cmdb/ci/query", {"callbackParameter": name, "type": ci_type, "name": name}).outputs[0]
    except Exception as e:
        raise RecordError(f"could not read {ci_type} {name!r} from the CMDB: {e}") from None
    return out.get("items") or []


def record(hook: WeCubePluginHook, target: str, **identity: Any) -> dict[str, Any]:
    """The target's remediation CI (``guid``, ``attributes``), created on first use."""
    try:
        out = hook.call(
            "cmdb/ci/create",
            {"callbackParameter": target, "type": REMEDIATION_CI, "name": target, "attributes": identity},
        ).outputs[0]
    except Exception as e:
        raise RecordError(f"could not read the remediation record of {target} from the CMDB: {e}") from None
    return {"guid": out["guid"], "attributes": out.get("attributes") or {}}


def history(
    entry: dict[str, Any], ci: Mapping[str, Any], me: str, running: Callable[[str], bool | None], shown: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The target record's past attempts and the run holding it (``None`` when free, ours or ended);
    notes the record and the last ``shown`` attempts in ``entry``."""
    entry["ci"] = ci["guid"]
    attempts = list(ci["attributes"].get("attempts") or [])
    holder = ci["attributes"].get("holder")
    busy_with = holder if holder and holder != me and running(holder) is not False else None
    entry["history"] = attempts[-shown:]
    return attempts, busy_with


def compare_and_set(
    hook: WeCubePluginHook,
    guid: str,
    expected: Mapping,
    attributes: Mapping,
    *,
    error: type[Exception] = RecordError,
    what: str = "the remediation record",
) -> dict[str, Any] | None:
    """One compare-and-set on a CMDB record: the new attributes, or ``None`` when another run wrote
    first (the CMDB answers ``conflict``); any other failure raises ``error`` naming ``what``."""
    from airflow_wecube.exceptions import WeCubePluginError

    entity = {"callbackParameter": guid, "guid": guid, "attributes": dict(attributes), "expected": dict(expected)}
    try:
        return hook.call("cmdb/ci/update", entity).outputs[0]["attributes"]
    except WeCubePluginError as e:
        failed = e.result.failed if e.result else []
        if failed and str(failed[0].get("errorMessage", "")).startswith(CONFLICT):
            return None
        raise error(f"could not update {what} {guid}: {e}") from None
    except Exception as e:
        raise error(f"could not update {what} {guid}: {e}") from None


def read(hook: WeCubePluginHook, guid: str) -> dict[str, Any]:
    """The attributes of the remediation record ``guid`` as they are now."""
    try:
        out = hook.call("cmdb/ci/query", {"callbackParameter": guid, "type": REMEDIATION_CI, "guid": guid}).outputs[0]
    except Exception as e:
        raise RecordError(f"could not read the remediation record {guid}: {e}") from None
    items = out.get("items") or []
    if not items:
        raise RecordError(f"the remediation record {guid} disappeared from the CMDB")
    return items[0]["attributes"]


def claim(
    hook: WeCubePluginHook,
    ci: Mapping[str, Any],
    me: str,
    *,
    now: float,
    ttl: float,
    running: Callable[[str], bool | None],
) -> tuple[bool, str | None, dict[str, Any]]:
    """Take the target's lock: ``(taken, holder, attributes)``; ``holder`` is the live run holding it
    when not taken. A lock whose run ended (``running(holder)`` is False) or that outlived its ttl is
    taken over."""
    attributes = dict(ci["attributes"])
    for _ in range(CAS_RETRIES):
        holder = attributes.get("holder")
        state = lock_state(attributes, me, now=now, holder_running=running(holder) if holder else None)
        if state == MINE:
            return True, None, attributes
        if state == HELD:
            return False, holder, attributes
        assert state in (FREE, STALE)
        expected, change = lock_claim(attributes, me, now=now, ttl=ttl)
        done = compare_and_set(hook, ci["guid"], expected, change)
        if done is not None:
            return True, None, done
        attributes = read(hook, ci["guid"])
    raise RecordError(f"could not take the lock of {ci['guid']}: {CAS_RETRIES} other writes came first")


def release(hook: WeCubePluginHook, guid: str, me: str) -> bool:
    """Give the lock back; ``False`` when ``me`` did not hold it (any more)."""
    expected, change = lock_release(me)
    return compare_and_set(hook, guid, expected, change) is not None


def append(hook: WeCubePluginHook, ci: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Append ``attempts`` to the target's history (retrying when another run wrote in between)."""
    attributes = dict(ci["attributes"])
    for _ in range(CAS_RETRIES):
        expected, change = with_attempts(attributes, attempts)
        done = compare_and_set(hook, ci["guid"], expected, change)
        if done is not None:
            return done
        attributes = read(hook, ci["guid"])
    raise RecordError(f"could not record the attempts of {ci['guid']}: {CAS_RETRIES} other writes came first")


__all__ = ["REMEDIATION_CI", "RecordError", "append", "claim", "find_instance", "read", "record", "release"]
