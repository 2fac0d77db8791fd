"""``POST /wecube/callback/<token>``: where asynchronous plugins POST their result (docs/async-plugins.md).

No Airflow login: the plugin (taskman, say) has none. The token in the URL is the credential: it is
random, given to one call only, and only its hash is stored (:mod:`airflow_wecube.callbacks.store`).
Answers use WeCube's platform shape ``{"status": "OK" | "ERROR", "message": ...}``, which taskman
reads to know its callback was taken:

Callbacks are answers per entity (``callbackParameter``): taskman POSTs one per entity of a call,
a batching platform one with every output (:mod:`airflow_wecube.callbacks.entities`). The first
answer for each entity wins; the task resumes once every entity has one.

* 200 OK: recorded (for the entities it answers that had no answer yet). Also 200 for the very same
  body sent again (a plugin retrying after a lost answer), which is ignored.
* 404: unknown or expired token (a forged or stale URL); nothing changes.
* 400: not the protocol's body, a ``results.requestId`` of another call, or an output for an entity
  the call did not send (or two for one entity); nothing changes.
* 409: only different answers for entities already answered: the first ones win; nothing changes.
* 413: a body over 1 MiB.
"""

from __future__ import annotations

import json
import logging

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_wecube.callbacks import store as callback_store
from airflow_wecube.callbacks.entities import split_callback
from airflow_wecube.callbacks.tokens import MAX_BODY_BYTES, TOKEN_RE, CallbackError, parse_callback, token_hash

log = logging.getLogger(__name__)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "OK" if status == 200 else "ERROR", "message": message}, status_code=status)


def create_app() -> FastAPI:
    """The callback app, mounted by :func:`airflow_wecube.ui.app.create_app` at ``/callback`` (no login)."""
    app = FastAPI(title="WeCube callbacks", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/{token}")
    async def receive(token: str, request: Request) -> JSONResponse:
        if not TOKEN_RE.fullmatch(token):
            return _answer(404, "unknown callback URL")
        digest = token_hash(token)
        registration = await anyio.to_thread.run_sync(callback_store.lookup, digest)
        if registration is None:
            log.warning("Callback to an unknown or expired token %s...: refused (404)", digest[:12])
            return _answer(404, "unknown or expired callback URL")
        where = f"{registration['dag_id']}/{registration['run_id']}/{registration['task_id']}"
        declared = request.headers.get("content-length") or "0"
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:  # refused before reading it
            return _answer(413, f"the body is over {MAX_BODY_BYTES} bytes")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _answer(413, f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            return _answer(400, "the body is not JSON")
        try:
            parsed = parse_callback(payload)
        except CallbackError as e:
            log.warning("Bad callback for %s (requestId %s): %s", where, registration["request_id"], e)
            return _answer(400, f"not a WeCube callback: {e}")
        rid = parsed.results.request_id
        if rid is not None and str(rid) != registration["request_id"]:
            log.warning("Callback for %s carries requestId %s, not %s: refused", where, rid, registration["request_id"])
            given = registration["request_id"]
            return _answer(400, f"results.requestId {rid!r} is not the request this URL was given to ({given})")
        rid = registration["request_id"]
        try:
            answers = split_callback(payload, registration.get("callbacks") or ["0"])
        except CallbackError as e:
            log.warning("Callback for %s (requestId %s) refused: %s", where, rid, e)
            return _answer(400, f"not a callback for this call: {e}")
        outcomes = await anyio.to_thread.run_sync(callback_store.record_results, registration, digest, answers)
        await anyio.to_thread.run_sync(_purge)
        recorded = [cb for cb, (outcome, _) in outcomes.items() if outcome == "recorded"]
        for cb, (outcome, first) in outcomes.items():
            if outcome != "recorded":
                log.warning(
                    "Second callback for %s (requestId %s, callbackParameter %s, first received %s) ignored: %s",
                    where,
                    rid,
                    cb,
                    first.get("received_at"),
                    "the same body again"
                    if outcome == "same"
                    else f"a different one (resultCode {parsed.result_code})",
                )
        differ = [cb for cb, (outcome, _) in outcomes.items() if outcome == "different"]
        ignored = f"; already answered, ignored: {', '.join(o for o in outcomes if o not in recorded)}"
        if recorded:
            log.info(
                "Callback for %s (requestId %s, callbackParameter %s): resultCode %s",
                where,
                rid,
                ", ".join(recorded),
                parsed.result_code,
            )
            extra = ignored if len(recorded) < len(outcomes) else ""
            return _answer(200, f"callback for request {rid} received (callbackParameter {', '.join(recorded)}){extra}")
        if not differ:
            return _answer(200, f"callback for request {rid} already received; ignored")
        firsts = ", ".join(f"{cb} at {outcomes[cb][1].get('received_at')}" for cb in differ)
        return _answer(
            409,
            f"request {rid} was already answered for callbackParameter {firsts}; "
            "the first callback wins (per entity), this one is ignored",
        )

    return app


def _purge() -> None:
    try:
        callback_store.purge_expired()
    except Exception:  # housekeeping must never lose a callback
        log.exception("Could not delete expired callback records")
