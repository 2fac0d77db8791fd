"""Asynchronous calls with several entities: callbacks are answers per entity, merged into one result.

WeCube's taskman creates one inbox task per entity (input) of a ``task/create-*`` call and POSTs one
callback per task when a person closes it: each carries the request's ``results.requestId`` and ONE
output, the ``callbackParameter`` of its entity, and its own ``resultCode`` (the option chosen for that
entity). A platform may also batch: one callback carrying the outputs of all entities. So a callback
is cut into one answer per entity it names (:func:`split_callback`); the store keeps the first answer
of each entity; the task resumes once every entity has one and judges them together
(:func:`merge_answers`) with the synchronous protocol's failure rules.

Pure: no Airflow import.
"""

from __future__ import annotations

import copy
from typing import Any

from airflow_wecube.callbacks.tokens import CallbackError, chosen_option, parse_callback

CALLBACK = "callbackParameter"
CHOSEN_OPTION = "chosenOption"
TIMED_OUT = "timedOut"


def split_callback(payload: dict[str, Any], callbacks: list[str]) -> dict[str, dict[str, Any]]:
    """The callback cut into one body per entity it answers: ``{callbackParameter: body}``.

    Each body is the callback with ``results.outputs`` narrowed to that entity's output. A callback
    without outputs answers every entity of the call (a request-level answer, such as a failure);
    an output without ``callbackParameter`` answers the only entity of a one-entity call.

    :param callbacks: the ``callbackParameter`` of each entity the call sent
    :raises CallbackError: an output for an entity the call did not send, two outputs for one
        entity, or an output without ``callbackParameter`` in a call of several entities
    """
    results = payload.get("results") or {}
    outputs = results.get("outputs") or []
    wanted = [str(c) for c in callbacks]
    if not outputs:
        return {cb: copy.deepcopy(payload) for cb in wanted}
    by_cb: dict[str, dict[str, Any]] = {}
    for o in outputs:
        cb = o.get(CALLBACK)
        if cb is None or str(cb) == "":
            if len(wanted) != 1:
                raise CallbackError(
                    f"an output has no callbackParameter, and the call sent {len(wanted)} entities "
                    f"({', '.join(wanted)}): say which one it answers"
                )
            cb = wanted[0]
        cb = str(cb)
        if cb not in wanted:
            raise CallbackError(
                f"an output names callbackParameter {cb!r}, which this call did not send "
                f"(its entities: {', '.join(wanted)}); nothing of this callback was recorded"
            )
        if cb in by_cb:
            raise CallbackError(f"two outputs for callbackParameter {cb!r}; nothing of this callback was recorded")
        by_cb[cb] = o
    split = {}
    for cb, o in by_cb.items():
        one = copy.deepcopy(payload)
        one["results"]["outputs"] = [copy.deepcopy(o)]
        split[cb] = one
    return split


def waiting(callbacks: list[str], answered: dict[str, Any]) -> list[str]:
    """The entities (in call order) that have no answer yet."""
    return [str(cb) for cb in callbacks if str(cb) not in answered]


def timeout_answer(callback_parameter: str, option: str) -> dict[str, Any]:
    """The answer ``on_timeout='approve'|'reject'`` takes for an entity nobody answered in time."""
    return {
        "resultCode": option,
        "resultMessage": "",
        "results": {"outputs": [{CALLBACK: callback_parameter, "errorCode": "0", "errorMessage": "", TIMED_OUT: True}]},
    }


def merge_answers(
    answers: dict[str, dict[str, Any]], callbacks: list[str], options: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """One protocol body out of the per-entity answers, and each entity's chosen option.

    Judged by the synchronous rules (``hooks.plugin.result_from_payload`` with success ``"0"``), the
    body fails exactly the entities whose own answer failed:

    * an output whose ``errorCode`` is not ``"0"`` fails its entity (as always);
    * an answer whose ``resultCode`` is not a success fails its entity: for APPROVAL interfaces
      (``options`` given) the success codes are the allowed options, the chosen option is the
      ``resultCode`` (or an older platform's ``results.allowedOptions[0]``), and ``"0"`` means no
      option was chosen; for others the success code is ``"0"``;
    * an entity without an answer, or whose answer has no output, gets none ("no output for
      callbackParameter b"), unless its failed ``resultCode`` says more.

    APPROVAL outputs get ``chosenOption``. The returned chosen options are ``{callbackParameter:
    option}`` for the entities that answered (empty for other interfaces).
    """
    outputs: list[dict[str, Any]] = []
    messages: list[str] = []
    chosen: dict[str, str] = {}
    for cb in (str(c) for c in callbacks):
        if cb not in answers:
            continue
        parsed = parse_callback(answers[cb])
        code = str(parsed.result_code)
        if parsed.result_message and parsed.result_message not in messages:
            messages.append(parsed.result_message)
        if options:
            option = chosen_option(parsed)
            chosen[cb] = option
            ok = option in options
            problem = f"the callback chose {option!r}, not one of the allowedOptions {options}" + (
                " (resultCode 0: no option was chosen)" if option == "0" else ""
            )
        else:
            ok, problem = code == "0", f"resultCode {code}"
        mine = [dict(o) for o in parsed.outputs] or ([] if ok else [{CALLBACK: cb}])
        for o in mine:
            o.setdefault(CALLBACK, cb)
            if options:
                o[CHOSEN_OPTION] = chosen[cb]
            if not ok and str(o.get("errorCode", "0")) in ("", "0"):
                o["errorCode"] = code if code not in ("", "0") else "1"
                o["errorMessage"] = o.get("errorMessage") or parsed.result_message or problem
        outputs.extend(mine)
    body = {"resultCode": "0", "resultMessage": "; ".join(messages), "results": {"outputs": outputs}}
    return body, chosen
