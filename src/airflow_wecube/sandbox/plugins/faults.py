"""``faults``: interfaces that misbehave on purpose, so clients can be tested against each way a
real plugin fails. Services are ``faults/fault/<action>``:

``echo``           each input back as its output, except sensitive ones (``token``)
``delay``          sleeps ``seconds`` (the largest asked by any entity, at most 60) then answers
``flaky``          HTTP 500 for the first ``fail_times`` calls carrying the same ``requestId``
``invalid-json``   HTTP 200 whose body is not JSON
``not-protocol``   HTTP 200 with JSON that is not the protocol
``result-code-1``  ``resultCode "1"`` with the ``message`` input as ``resultMessage``
``entity-errors``  entities with ``fail`` = Y fail with ``failed on purpose: <callbackParameter>``
``quiet-entity-errors``  the same, but the call answers ``resultCode "0"`` (per-entity errors only)
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.responses import JSONResponse, PlainTextResponse, Response

from airflow_wecube.protocol.wire import PluginResponse, error_output, ok_output
from airflow_wecube.sandbox.plugin import (
    Call,
    EntityError,
    SandboxPackage,
    failure,
    flag,
    integer,
    present,
    success,
    text,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS faults_flaky (
    request_id TEXT PRIMARY KEY,
    calls INTEGER NOT NULL
);
"""

#: the longest ``delay`` the sandbox agrees to
MAX_DELAY = 60.0

package = SandboxPackage("faults", schema=SCHEMA)
fault = package.plugin("fault")


@fault.entity("echo")
def echo(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Every input back, except those the manifest marks sensitive (a real plugin keeps them)."""
    hidden = call.interface.sensitive_inputs | {"callbackParameter"}
    return {k: v for k, v in entity.items() if k not in hidden}


def _seconds(entity: dict[str, Any]) -> float:
    raw = text(entity, "seconds").strip()
    try:
        seconds = float(raw)
    except ValueError:
        raise EntityError(f"input seconds must be a number, got {raw!r}") from None
    if not 0 <= seconds <= MAX_DELAY:
        raise EntityError(f"input seconds must be between 0 and {MAX_DELAY:g}, got {raw}")
    return seconds


@fault.request("delay")
def delay(call: Call) -> PluginResponse:
    """One sleep for the whole call (the largest asked), then one output per entity."""
    try:
        waits = [_seconds(e) for e in call.request.inputs]
    except EntityError as e:
        return failure(f"bad request: {e}")
    slept = max(waits, default=0.0)
    time.sleep(slept)
    return success([ok_output(e.get("callbackParameter", ""), slept=f"{slept:g}") for e in call.request.inputs])


@fault.request("flaky")
def flaky(call: Call) -> PluginResponse | Response:
    """Fail with HTTP 500 until this ``requestId`` has been seen more than ``fail_times`` times."""
    try:
        fail_times = max((integer(e, "fail_times") for e in call.request.inputs), default=0)
    except EntityError as e:
        return failure(f"bad request: {e}")
    attempt = (
        call.store.connection()
        .execute(
            "INSERT INTO faults_flaky (request_id, calls) VALUES (?, 1)"
            " ON CONFLICT (request_id) DO UPDATE SET calls = calls + 1 RETURNING calls",
            (call.request_id,),
        )
        .fetchone()[0]
    )
    if attempt <= fail_times:
        return PlainTextResponse(
            f"flaky: call {attempt} of requestId {call.request_id} fails on purpose ({fail_times} will)",
            status_code=500,
        )
    return success([ok_output(e.get("callbackParameter", ""), attempt=attempt) for e in call.request.inputs])


@fault.request("invalid-json")
def invalid_json(call: Call) -> Response:
    """HTTP 200, a JSON content type, and a truncated body."""
    return Response(b'{"resultCode": "0", "resultMessage": "success", "results": {"outp', media_type="application/json")


@fault.request("not-protocol")
def not_protocol(call: Call) -> Response:
    return JSONResponse({"hello": "world"})


@fault.request("result-code-1")
def result_code_1(call: Call) -> PluginResponse:
    """A whole-call failure with the first ``message`` given (no outputs)."""
    messages = [str(e["message"]) for e in call.request.inputs if present(e.get("message"))]
    return failure(messages[0] if messages else "failed on purpose")


@fault.entity("entity-errors")
def entity_errors(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    if flag(entity, "fail"):
        raise EntityError(f"failed on purpose: {entity.get('callbackParameter')}")
    return {"value": entity.get("value", "")}


@fault.request("quiet-entity-errors")
def quiet_entity_errors(call: Call) -> PluginResponse:
    """Per-entity errors under ``resultCode "0"``: the caller must still notice them."""
    outputs = []
    for e in call.request.inputs:
        cb = str(e.get("callbackParameter", ""))
        if flag(e, "fail"):
            outputs.append(error_output(cb, f"failed on purpose: {cb}"))
        else:
            outputs.append(ok_output(cb, value=e.get("value", "")))
    return success(outputs)
