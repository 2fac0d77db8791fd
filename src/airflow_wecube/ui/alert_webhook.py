"""``POST /wecube/alerts``: Alertmanager's webhook receiver; each alert state change becomes an Asset event.

Not behind an Airflow login (Alertmanager has none): the caller proves itself with the shared secret,
the password of the ``alertmanager_default`` connection, sent as ``Authorization: Bearer <secret>``
(Alertmanager's ``http_config.authorization``). Answers:

- 200: the delivery was read; ``recorded``, ``duplicates`` and ``no_listener`` say what became of it
  (:func:`airflow_wecube.ui.alert_events.record_alerts`).
- 401: no bearer token, or not the secret (compared in constant time); nothing is read or recorded.
- 400: not Alertmanager's webhook payload version 4, or larger than 1 MiB; ``detail`` says why and
  nothing is recorded (Alertmanager does not retry a 4xx).
- 503: the connection is missing or has no password, so no caller can be told apart; Alertmanager
  retries until it is set.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from airflow_wecube.alertmanager.errors import AlertPayloadError
from airflow_wecube.alertmanager.payload import MAX_PAYLOAD_BYTES, parse_payload

log = logging.getLogger(__name__)

router = APIRouter()

#: the connection whose password is the webhook's shared secret
CONN_ID = "alertmanager_default"


def webhook_secret(conn_id: str = CONN_ID) -> str | None:
    """The connection's password, or None when the connection is missing or has none."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    try:
        return Connection.get_connection_from_secrets(conn_id).password or None
    except AirflowNotFoundException:
        return None


def _refuse(status: int, detail: str, **extra) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


async def _body(request: Request, limit: int) -> bytes:
    """The body, read no further than ``limit`` + 1 bytes (a larger one fails the parse's size check)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise AlertPayloadError([f"the payload is {announced} bytes, more than the {limit} bytes allowed"])
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise AlertPayloadError([f"the payload is more than the {limit} bytes allowed"])
    return bytes(body)


@router.post("/alerts")
async def receive_alerts(request: Request) -> Response:
    """Alertmanager's webhook (payload version 4): record each new alert state change as an Asset event."""
    secret = await run_in_threadpool(webhook_secret)
    if secret is None:
        log.error("webhook refused: connection %r is missing or has no password (the shared secret)", CONN_ID)
        return _refuse(
            503,
            f"the webhook is not configured: connection {CONN_ID!r} is missing or has no password "
            "(the secret Alertmanager sends as its bearer token)",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), secret.encode()):
        log.warning("webhook refused: %s", "wrong bearer token" if token else "no bearer token")
        return _refuse(401, f"send the password of connection {CONN_ID!r} as 'Authorization: Bearer <secret>'")
    try:
        payload = parse_payload(await _body(request, MAX_PAYLOAD_BYTES))
    except ClientDisconnect:  # Alertmanager's notify timeout passed first: it sends the group again
        log.warning("webhook: the sender hung up before its payload was read (nothing recorded; it will resend)")
        return Response(status_code=400)
    except AlertPayloadError as exc:
        log.warning("webhook payload refused: %s", exc)
        return _refuse(400, f"not an Alertmanager webhook payload (version 4): {exc}", problems=exc.problems)
    from airflow_wecube.ui.alert_events import record_alerts

    result = await run_in_threadpool(record_alerts, payload)
    log.info(
        "webhook from receiver %r: %d alert(s), %d recorded, %d already recorded, no DAG listens to %s",
        payload.receiver,
        len(payload.alerts),
        len(result["recorded"]),
        len(result["duplicates"]),
        result["no_listener"] or "-",
    )
    return JSONResponse(result)
