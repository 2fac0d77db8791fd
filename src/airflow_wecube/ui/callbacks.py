"""``POST /wecube/callback/<token>``: where asynchronous plugins POST their result (docs/async-plugins.md).

No Airflow login: the plugin (taskman, say) has none. The token in the URL is the credential: it is
random, given to one call only, and only its hash is stored (:mod:`airflow_wecube.callback_store`).
Answers use WeCube's platform shape ``{"status": "OK" | "ERROR", "message": ...}``, which taskman
reads to know its callback was taken:

* 200 OK: recorded; the waiting task resumes. Also 200 for the very same body sent again (a plugin
  retrying after a lost answer), which is ignored.
* 404: unknown or expired token (a forged or stale URL); nothing changes.
* 400: not the protocol's body, or a ``results.requestId`` of another call; nothing changes.
* 409: a different callback for a request already answered: the first one wins; nothing changes.
* 413: a body over 1 MiB.
"""

from __future__ import annotations

import json
import logging

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_wecube import callback_store
from airflow_wecube.callback import MAX_BODY_BYTES, TOKEN_RE, CallbackError, parse_callback, token_hash

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
        stored, first = await anyio.to_thread.run_sync(callback_store.record_result, registration, digest, payload)
        await anyio.to_thread.run_sync(_purge)
        if stored:
            log.info(
                "Callback for %s (requestId %s): resultCode %s", where, registration["request_id"], parsed.result_code
            )
            return _answer(200, f"callback for request {registration['request_id']} received")
        same = first.get("body") == callback_store.mask_outputs(payload, registration.get("sensitive_outputs") or [])
        log.warning(
            "Second callback for %s (requestId %s, first received %s) ignored: %s",
            where,
            registration["request_id"],
            first.get("received_at"),
            "the same body again" if same else f"a different one (resultCode {parsed.result_code})",
        )
        if same:
            return _answer(200, f"callback for request {registration['request_id']} already received; ignored")
        return _answer(
            409,
            f"request {registration['request_id']} was already answered at {first.get('received_at')}; "
            "the first callback wins, this one is ignored",
        )

    return app


def _purge() -> None:
    try:
        callback_store.purge_expired()
    except Exception:  # housekeeping must never lose a callback
        log.exception("Could not delete expired callback records")
