"""One answer per ``requestId``: what a real WeCube plugin does with a repeated request.

Airflow retries a task instance with the same ``requestId`` (DESIGN §4): after a worker was killed
mid-call, after a timeout, after an HTTP 5xx. The plugin must not do the work twice. The sandbox keeps,
per ``(service, requestId)``, the first successful answer (``resultCode "0"``) in its SQLite file
(so it survives a sandbox restart) and answers a repeat with it, byte for byte, without running the
handler again. A repeat that arrives while the first call still runs waits for it (at most
:data:`WAIT_SECONDS`) and then gets its answer.

Not recorded: failed answers (``resultCode`` other than ``"0"``, HTTP 5xx, refused requests): a retry
of a failed call runs again, as a retry is meant to. A repeated ``requestId`` carrying other inputs
is refused (``resultCode "1"``): it is a client bug, and answering it with another request's outputs
would hide it. Inputs mapped to a system variable are left out of that comparison: the platform fills
them anew in each call (a retried asynchronous call carries a new ``CALLBACK_URL`` for the same request,
and the first one still answers it).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse, Response

from airflow_wecube.protocol.wire import PluginResponse
from airflow_wecube.sandbox.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_answers (
    service TEXT NOT NULL,
    request_id TEXT NOT NULL,
    inputs_sha TEXT NOT NULL,
    state TEXT NOT NULL,
    owner TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status_code INTEGER,
    media_type TEXT,
    body BLOB,
    replays INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service, request_id)
);
"""

#: how long a repeat waits for the first call of its requestId to finish
WAIT_SECONDS = 120.0
_POLL = 0.2
#: this server process: a ``running`` record of another owner was left by a sandbox that stopped mid-call
OWNER = uuid.uuid4().hex


@dataclass
class Answer:
    status_code: int
    media_type: str
    body: bytes


class Replayed(Response):
    """The recorded answer of an earlier call with this ``requestId``, sent again."""

    def __init__(self, answer: Answer):
        super().__init__(content=answer.body, status_code=answer.status_code, media_type=answer.media_type)


def once(
    store: Store, service: str, request_id: str, inputs: Any, run: Callable[[], PluginResponse | Response]
) -> PluginResponse | Response:
    """``run()`` for the first call of ``(service, request_id)``; its recorded answer for a repeat."""
    claimed = claim(store, service, request_id, inputs)
    if isinstance(claimed, str):
        return PluginResponse(resultCode="1", resultMessage=f"bad request: {claimed}")
    if isinstance(claimed, Answer):
        return Replayed(claimed)
    kept = None
    try:
        result = run()
        if isinstance(result, PluginResponse) and result.ok:
            kept = JSONResponse(result.to_wire())  # the bytes the caller gets (plugin.py renders it so)
        return result
    finally:
        if kept is not None:
            finish(store, service, request_id, Answer(kept.status_code, "application/json", bytes(kept.body)))
        else:
            release(store, service, request_id)


def without(inputs: Any, names: frozenset[str]) -> Any:
    """The entities without the inputs ``names`` (those the platform fills anew in every call)."""
    if not names or not isinstance(inputs, list):
        return inputs
    return [{k: v for k, v in e.items() if k not in names} if isinstance(e, dict) else e for e in inputs]


def inputs_digest(inputs: Any) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def claim(store: Store, service: str, request_id: str, inputs: Any) -> Answer | str | None:
    """Take ``(service, request_id)`` for this call.

    :return: ``None`` when the caller must run the handler (then :func:`finish` or :func:`release`),
        an :class:`Answer` to replay, or a message refusing the call (other inputs under this id)
    """
    digest = inputs_digest(inputs)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with store.transaction() as tx:
            row = tx.execute(
                "SELECT * FROM sandbox_answers WHERE service = ? AND request_id = ?", (service, request_id)
            ).fetchone()
            if row is not None and row["inputs_sha"] != digest:
                return (
                    f"requestId {request_id} was already used for {service} with other inputs: a retry must send"
                    " the same inputs, a new request a new requestId"
                )
            if row is not None and row["state"] == "done":
                tx.execute(
                    "UPDATE sandbox_answers SET replays = replays + 1 WHERE service = ? AND request_id = ?",
                    (service, request_id),
                )
                return Answer(row["status_code"], row["media_type"], bytes(row["body"]))
            stale = row is not None and (row["owner"] != OWNER or time.monotonic() >= deadline)
            if row is None or stale:
                tx.execute(
                    "INSERT OR REPLACE INTO sandbox_answers (service, request_id, inputs_sha, state, owner, started_at)"
                    " VALUES (?, ?, ?, 'running', ?, ?)",
                    (service, request_id, digest, OWNER, time.time()),
                )
                return None
        time.sleep(_POLL)  # the first call of this requestId still runs in this server: wait for its answer


def finish(store: Store, service: str, request_id: str, answer: Answer) -> None:
    """Keep the answer of a successful call for the repeats to come."""
    store.connection().execute(
        "UPDATE sandbox_answers SET state = 'done', finished_at = ?, status_code = ?, media_type = ?, body = ?"
        " WHERE service = ? AND request_id = ? AND owner = ?",
        (time.time(), answer.status_code, answer.media_type, answer.body, service, request_id, OWNER),
    )


def release(store: Store, service: str, request_id: str) -> None:
    """The call failed: forget it, so that a retry runs the handler again."""
    store.connection().execute(
        "DELETE FROM sandbox_answers WHERE service = ? AND request_id = ? AND state = 'running' AND owner = ?",
        (service, request_id, OWNER),
    )


def records(store: Store, request_id: str | None = None) -> list[dict[str, Any]]:
    """The records (without the answers' bodies), oldest first, for ``GET /sandbox/answers``."""
    sql = "SELECT service, request_id, state, started_at, finished_at, status_code, replays FROM sandbox_answers"
    args: tuple = ()
    if request_id is not None:
        sql += " WHERE request_id = ?"
        args = (request_id,)
    return [
        {
            "serviceName": r["service"],
            "requestId": r["request_id"],
            "state": r["state"],
            "startedAt": r["started_at"],
            "finishedAt": r["finished_at"],
            "statusCode": r["status_code"],
            "replays": r["replays"],
        }
        for r in store.connection().execute(sql + " ORDER BY started_at", args)
    ]
