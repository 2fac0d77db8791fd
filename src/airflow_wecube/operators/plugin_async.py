"""The asynchronous path of ``WeCubePluginOperator``: send, defer until the callback, then judge it.

Kept beside ``operators/plugin.py`` so each module holds one concept; docs/async-plugins.md tells
the whole story (store, token, race with Airflow, retries).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_wecube.callbacks import store as callback_store
from airflow_wecube.callbacks.entities import CHOSEN_OPTION as CHOSEN_OPTION_KEY
from airflow_wecube.callbacks.entities import TIMED_OUT, merge_answers, timeout_answer, waiting
from airflow_wecube.callbacks.tokens import base_problem, callback_url, new_token, reject_options, token_hash
from airflow_wecube.compat.settle import settle_seconds
from airflow_wecube.exceptions import WeCubePluginError
from airflow_wecube.hooks.plugin import mask_secret, result_from_payload
from airflow_wecube.triggers.callback import PluginCallbackTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_wecube.registry import Service

#: XCom key of an APPROVAL interface's chosen option
CHOSEN_OPTION_XCOM_KEY = "chosen_option"
#: key added to each returned output of an APPROVAL interface
CHOSEN_OPTION = CHOSEN_OPTION_KEY
DEFAULT_OPTIONS = ("Approve", "Reject")
ON_TIMEOUT = ("fail", "skip", "approve", "reject")
DEFAULT_POLL_SECONDS = 2.0


def callback_base() -> str:
    """``[wecube] callback_base_url``, else ``[api] base_url``; a clear error when neither is usable."""
    from airflow_wecube.config import airflow_option

    base = airflow_option("callback_base_url")
    if not base:
        try:
            from airflow.sdk import conf

            base = conf.get("api", "base_url", fallback=None)
        except Exception:
            base = None
    problem = base_problem(base)
    if problem:
        raise AirflowFailException(problem)
    return str(base)


def sysvar_lookup(name: str) -> str | None:
    """A system variable: Airflow Variable ``wecube_sysvar_<NAME>``, else ``[wecube] sysvar_<name>``."""
    from airflow.sdk import Variable

    from airflow_wecube.config import airflow_option
    from airflow_wecube.protocol.platform_inputs import SYSVAR_CONFIG_PREFIX, SYSVAR_VARIABLE_PREFIX

    value = Variable.get(f"{SYSVAR_VARIABLE_PREFIX}{name}", default=None)
    if value in (None, ""):
        value = airflow_option(f"{SYSVAR_CONFIG_PREFIX}{name.lower()}")
    return value


def poll_seconds() -> float:
    from airflow_wecube.config import airflow_option

    raw = airflow_option("callback_poll_seconds")
    try:
        value = float(raw) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        raise AirflowFailException(f"[wecube] callback_poll_seconds must be a number, got {raw!r}") from None
    return max(value, 0.2)


def options_of(op, svc: Service) -> list[str]:
    return list(op.allowed_options or DEFAULT_OPTIONS) if svc.interface.type == "APPROVAL" else []


def send_and_defer(op, context: Context, hook, svc: Service, entities: list[dict], request_id: str, run) -> None:
    """Register a callback token, send the request with its URL, then defer until the callback (or timeout).

    A retry (same ``requestId``) whose callback already came does not send again; otherwise it sends
    again with a new token registered for the same request, so the URL of either try still answers.
    """
    from airflow_wecube.protocol.platform_inputs import fill_platform_inputs

    ti = context["ti"]
    now = datetime.now(timezone.utc)
    deadline = now + timedelta(seconds=op.timeout_seconds) if op.timeout_seconds else None
    options = options_of(op, svc)
    callbacks = [str(e["callbackParameter"]) for e in entities]
    answered = ti.try_number > 1 and not waiting(callbacks, callback_store.read_results(request_id, callbacks))
    if answered:
        op.log.info(
            "The callbacks of requestId %s came already (an earlier try sent it): not sending again", request_id
        )
    else:
        token = new_token()
        mask_secret(token)
        url = callback_url(callback_base(), token)
        mask_secret(url)
        entities = fill_platform_inputs(
            svc, entities, run, sysvar=sysvar_lookup, callback_url=url, package_defaults=op._package_defaults(svc)
        )
        callback_store.register(
            token_hash(token),
            {
                "request_id": request_id,
                "dag_id": ti.dag_id,
                "run_id": ti.run_id,
                "task_id": ti.task_id,
                "map_index": ti.map_index if ti.map_index is not None else -1,
                "try_number": ti.try_number,
                "service": svc.name,
                "callbacks": callbacks,
                "sensitive_outputs": sorted({p.name for p in svc.interface.outputs if p.sensitive}),
                "created_at": now.isoformat(),
            },
            deadline,
        )
        extra: dict[str, Any] = {}
        if options:
            extra["allowedOptions"] = options
        if deadline is not None:
            extra["dueDate"] = str(max(1, math.ceil(op.timeout_seconds / 60)))  # minutes, as taskman reads it
        try:
            ack = hook.call(svc, entities, request_id=request_id, extra_body=extra)
        except WeCubePluginError as e:
            op._raise_failed(ti, e)
            raise
        op.log.info(
            "%s acknowledged requestId %s (%s); waiting for its callback%s",
            svc.name,
            request_id,
            ack.result_message or "no message",
            f" until {deadline.isoformat()}" if deadline else "",
        )
    not_before = time.time() + settle_seconds()
    end = deadline.timestamp() if deadline else None
    op.defer(
        trigger=PluginCallbackTrigger(
            request_id=request_id,
            callbacks=callbacks,
            end_time=max(end, not_before) if end is not None else None,
            not_before=not_before,
            poll_interval=poll_seconds(),
        ),
        method_name="execute_complete",
        kwargs={
            "wecube_async": {
                "request_id": request_id,
                "service": svc.name,
                "version": svc.version,
                "callbacks": callbacks,
                "options": options,
                "deadline": deadline.isoformat() if deadline else None,
            }
        },
    )


def complete(op, context: Context, event: dict[str, Any], state: dict[str, Any]) -> Any:
    """Turn the recorded answers (one per entity) into the task's result, with the synchronous call's rules."""
    ti = context["ti"]
    svc = op._registry().service(state["service"], state["version"])
    callbacks = [str(c) for c in state["callbacks"]]
    entities = [{"callbackParameter": c} for c in callbacks]
    options = list(state.get("options") or [])
    rejecting = reject_options(options, list(op.reject_options) if op.reject_options is not None else None)
    found = callback_store.read_results(state["request_id"], callbacks)  # those that came after the trigger's look too
    answers = {cb: record["body"] for cb, record in found.items()}
    missing = waiting(callbacks, answers)
    if missing and event.get("status") == "timeout":
        answers.update(_timed_out(op, svc.name, state, callbacks, missing, options, rejecting))
    elif missing:
        raise AirflowFailException(
            f"{svc.name}: the callbacks of requestId {state['request_id']} for callbackParameter "
            f"{', '.join(missing)} are gone from the store (deleted?)"
        )
    try:
        body, chosen = merge_answers(answers, callbacks, options)
    except ValueError as e:
        raise AirflowFailException(f"{svc.name}: a recorded callback is not the protocol's: {e}") from None
    try:
        result = result_from_payload(svc, state["request_id"], entities, body)
    except WeCubePluginError as e:
        op._raise_failed(ti, e)
        raise
    ti.xcom_push(key="plugin_result", value=result.to_dict())
    if options:
        ti.xcom_push(key=CHOSEN_OPTION_XCOM_KEY, value=chosen.get(callbacks[0]) if op._single else chosen)
        _judge_options(op, svc.name, result.outputs, chosen, rejecting)
    op.log.info(
        "%s: callbacks received at %s, %d output(s)%s",
        svc.name,
        ", ".join(f"{cb} {r.get('received_at')}" for cb, r in found.items()) or "-",
        len(result.outputs),
        f", chosen option(s) {chosen}" if options else "",
    )
    return result.outputs[0] if op._single and result.outputs else result.outputs


def _judge_options(op, name: str, outputs: list[dict], chosen: dict[str, str], rejecting: set[str]) -> None:
    """APPROVAL interfaces: any entity's rejecting option rejects the call (fails the task, unless
    ``fail_on_reject=False``), naming each rejecting entity and its comment."""
    by_cb = {str(o.get("callbackParameter")): o for o in outputs}
    rejected = [cb for cb, option in chosen.items() if option in rejecting]
    if not rejected:
        return
    notes = []
    for cb in rejected:
        o = by_cb.get(cb, {})
        note = "by timeout" if o.get(TIMED_OUT) else str(o.get("comment") or "")
        if note:
            notes.append(note if len(chosen) == 1 else f"{cb}: {note}")
    picked = ", ".join(dict.fromkeys(chosen[cb] for cb in rejected))
    who = "" if len(chosen) == 1 else f" by {len(rejected)} of {len(chosen)} entities"
    msg = f"{name}: rejected ({picked}){who}" + (f": {'; '.join(notes)}" if notes else "")
    if op.fail_on_reject:
        raise AirflowFailException(msg)
    op.log.warning("%s; continuing (fail_on_reject=False)", msg)


def _timed_out(op, name: str, state, callbacks, missing, options, rejecting) -> dict[str, dict]:
    """``on_timeout`` for the entities still waiting: fail, skip, or their answer by the policy's option."""
    deadline = state.get("deadline")
    some = f" for {len(missing)} of {len(callbacks)} entities" if len(callbacks) > 1 else ""
    waited = (
        f"{name}: no callback for requestId {state['request_id']}{some} by {deadline} "
        f"(still waiting: callbackParameter {', '.join(missing)})"
    )
    policy = op.on_timeout
    if policy == "skip":
        raise AirflowSkipException(waited)
    if policy == "fail":
        raise AirflowFailException(waited + " (on_timeout='fail')")
    pick = [o for o in options if (o in rejecting) == (policy == "reject")]
    if not pick:
        raise AirflowFailException(f"{waited}; on_timeout={policy!r} but no allowed option {policy}s ({options})")
    op.log.warning("%s: taking %r by on_timeout=%r", waited, pick[0], policy)
    return {cb: timeout_answer(cb, pick[0]) for cb in missing}
