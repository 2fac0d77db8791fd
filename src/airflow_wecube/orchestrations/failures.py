"""What the example orchestrations share: refuse a bad run at its first task, remember why a task
failed, release what a failed rollout created, and say it all in one final message.

A failed run must say its first real cause (not a guess from which task is red), what the
rollback did or could not do, and which resources it gave back. Tasks record their own failure
(:func:`record_failure`, an ``on_failure_callback``) so that a later task can read it from XCom.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_wecube.hooks.plugin import WeCubePluginHook

#: XCom key under which :func:`record_failure` keeps why a task failed
FAILURE_XCOM_KEY = "failure"
#: XCom key of a cleanup task's summary (pushed before it fails, so the report still has it)
SUMMARY_XCOM_KEY = "summary"
#: XCom key of the final message of a failed run
MESSAGE_XCOM_KEY = "message"
#: the longest error text kept per task (a plugin may answer a whole page)
MAX_ERROR = 2000

FAILED = frozenset({"failed", "upstream_failed"})


class ConfError(ValueError):
    """The run's conf is not usable; the message names the keys and the accepted ones."""


def refuse_unknown_conf(conf: Mapping[str, Any] | None, declared: Iterable[str]) -> None:
    """Raise :class:`ConfError` when the run's conf has keys the DAG does not declare.

    Airflow accepts any conf key and ignores those that are not params, so a misspelt
    ``subnet_name`` would silently run with the default subnet.
    """
    known = sorted(declared)
    unknown = sorted(set(conf or {}) - set(known))
    if unknown:
        raise ConfError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} in the run's conf; this DAG takes "
            f"{', '.join(known)} (check the spelling; nothing was created)"
        )


def error_text(exc: BaseException | str | None) -> str:
    """One readable line (or a few) for an exception: its message, else its type."""
    if exc is None:
        return "no error was recorded (see the task's log)"
    if isinstance(exc, str):
        text = exc
    else:
        text = str(exc).strip() or type(exc).__name__
        if type(exc).__name__ not in ("AirflowFailException", "AirflowException") and not text.startswith(
            type(exc).__name__
        ):
            text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def record_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: keep why this task failed (XCom ``failure``) for the run's final message."""
    ti = context["ti"]
    exc = context.get("exception")
    ti.xcom_push(key=FAILURE_XCOM_KEY, value={"task": label(ti.task_id, ti.map_index), "error": error_text(exc)})


def label(task_id: str, map_index: int | None = -1) -> str:
    """``task`` or ``task[i]`` for a mapped task instance (as the grid shows it)."""
    return task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"


def failed_in_order(states: Mapping[str, Any], order: Sequence[str]) -> list[str]:
    """Failed task instances in DAG order, from ``get_task_states`` (mapped ones are ``task_i``)."""
    found: list[str] = []
    for task_id in order:
        if states.get(task_id) in FAILED:
            found.append(task_id)
        mapped = sorted(
            (int(k[len(task_id) + 1 :]), v)
            for k, v in states.items()
            if k.startswith(task_id + "_") and k[len(task_id) + 1 :].isdigit()
        )
        found += [label(task_id, i) for i, v in mapped if v in FAILED]
    return found


def first_cause(failed: Sequence[str], records: Mapping[str, str]) -> tuple[str, str] | None:
    """``(task, error)`` of the first failed task that recorded an error (upstream_failed ones did
    not run, so they have none), else the first failed task with a generic text."""
    for task in failed:
        if records.get(task):
            return task, records[task]
    return (failed[0], records.get(failed[0]) or error_text(None)) if failed else None


# -- hosts ------------------------------------------------------------------------------------


def created_hosts(host_outputs: Iterable[Any]) -> list[dict[str, Any]]:
    """The hosts this run created (``created == "Y"``), sorted by name; ``None`` entries are skipped."""
    hosts = [dict(h) for h in host_outputs if isinstance(h, Mapping) and h.get("created") == "Y"]
    return sorted(hosts, key=lambda h: h.get("name", ""))


def release_hosts(hook: WeCubePluginHook, hosts: Sequence[Mapping[str, Any]], request_id: str | None = None) -> dict:
    """Destroy ``hosts`` (``host/host/destroy``, one batched call: stops their apps, frees addresses
    and ports). Returns ``{"released": [...], "problems": [...], "not_released": [names]}``; never
    raises: an unreachable plugin or a missing connection is a problem the caller reports."""
    from airflow_wecube.exceptions import WeCubePluginError

    if not hosts:
        return {"released": [], "problems": [], "not_released": []}
    inputs = [{"callbackParameter": h["name"], "host": h.get("guid") or h["name"]} for h in hosts]
    by_name = {h["name"]: h for h in hosts}
    problems: list[str] = []
    try:
        outputs = hook.call("host/host/destroy", inputs, request_id=request_id).outputs
    except WeCubePluginError as e:
        outputs = e.result.succeeded if e.result else []
        failed = e.result.failed if e.result else []
        if failed:
            problems += [f"{o.get('callbackParameter')}: {o.get('errorMessage')}" for o in failed]
        else:
            problems.append(error_text(e))
    except Exception as e:  # unreachable plugin, missing connection: say so, the caller reports it
        outputs = []
        problems.append(error_text(e))
    released = []
    for o in outputs:
        h = by_name.get(o.get("name") or o.get("callbackParameter"), {})
        released.append(
            {
                "name": o.get("name"),
                "guid": o.get("guid"),
                "ip": h.get("ip"),
                "ports": h.get("ports"),
                "stopped_apps": o.get("stopped_apps") or [],
            }
        )
    done = {r["name"] for r in released}
    left = [n for n in by_name if n not in done]
    if left and not problems:
        problems.append(f"no answer for {', '.join(left)}")
    return {"released": released, "problems": problems, "not_released": left}


def describe_release(release: Mapping[str, Any] | None, created: Sequence[Mapping[str, Any]] = ()) -> str:
    """One sentence on the hosts a failed run gave back (or could not)."""
    if release is None:
        names = ", ".join(h["name"] for h in created)
        return (
            (
                f"hosts {names} created by this run were NOT released (the release did not run); "
                f"destroy them with host/host/destroy"
            )
            if names
            else "no hosts were created by this run"
        )
    parts = []
    if release.get("released"):
        parts.append(
            "released host(s) "
            + ", ".join(f"{r['name']} ({r['ip']})" if r.get("ip") else str(r["name"]) for r in release["released"])
        )
    if release.get("not_released"):
        parts.append(
            f"host(s) {', '.join(release['not_released'])} were NOT released "
            f"({'; '.join(release.get('problems') or [])}); "
            f"destroy them with host/host/destroy"
        )
    if release.get("kept"):
        parts.append(f"kept host(s) {', '.join(release['kept'])} (they existed before this run)")
    return "; ".join(parts) or "no hosts were created by this run"


# -- the final message ------------------------------------------------------------------------


def deploy_reason(app: str, version: str, result: Mapping[str, Any] | None) -> str | None:
    """The deploy's per-host errors from its plugin result, or ``None`` when it has none."""
    if not result or not result.get("failed"):
        return None
    details = "; ".join(f"{o.get('callbackParameter')}: {o.get('errorMessage')}" for o in result["failed"])
    return (
        f"deploy of {app} {version} failed on {len(result['failed'])} "
        f"of {len(result.get('outputs') or [])} host(s): {details}"
    )


def describe_rollback(state: str | None, summary: Mapping[str, Any] | None, error: str | None) -> str:
    """What the rollback did, or why it could not."""
    summary = summary or {}
    done = "; ".join(summary.get("actions") or [])
    problems = "; ".join(summary.get("problems") or [])
    if state == "failed":
        text = f"the rollback FAILED: {error or error_text(None)}"
        if done:
            text += f" (it did: {done})"
        if problems and (not error or problems not in error):
            text += f" (problems: {problems})"
        return text
    if state in ("skipped", None, "upstream_failed", "removed"):
        return "nothing was deployed, nothing to roll back"
    text = done or "nothing to roll back"
    return text + (f" (problems: {problems})" if problems else "")


def failure_message(
    subject: str,
    cause: tuple[str, str] | None,
    *,
    rollback: str,
    hosts: str,
) -> str:
    """The run's final message: the first real cause, what the rollback did, what was released."""
    if cause is None:
        head = f"{subject} failed"
    elif cause[0] == "approve":  # a rejection (or a timeout taken as one) is a decision, not a fault
        head = f"{subject} was not approved: {cause[1]}"
    else:
        head = f"{subject} failed at {cause[0]}: {cause[1]}"
    return "\n".join([head, f"Rollback: {rollback}.", f"Hosts: {hosts}."])


__all__ = [
    "ConfError",
    "FAILURE_XCOM_KEY",
    "MESSAGE_XCOM_KEY",
    "SUMMARY_XCOM_KEY",
    "created_hosts",
    "deploy_reason",
    "describe_release",
    "describe_rollback",
    "error_text",
    "failed_in_order",
    "failure_message",
    "first_cause",
    "label",
    "record_failure",
    "refuse_unknown_conf",
    "release_hosts",
]
