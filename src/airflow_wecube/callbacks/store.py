"""Where asynchronous plugin calls and their callbacks meet: Airflow Variables in the metadata DB.

Three processes take part, possibly on three hosts (the Celery cluster layout): the worker that sends
the request, the API server that receives the callback, the triggerer that waits. The only store all
three reach is Airflow's metadata DB, and the only part of it a worker may write in Airflow 3 (no ORM
in tasks) is what the Task SDK offers: Variables and XCom. XCom of a task instance is cleared when it
is retried, and a retry must keep waiting for the same callback; Variables are not. So:

* ``wecube_callback_<sha256 of the token>``: the registration, written by the worker (Task SDK)
  *before* the request is sent: request id, task instance, service, the ``callbackParameter`` of
  each entity sent, the names of sensitive outputs, expiry. The token itself is stored nowhere.
* ``wecube_callback_result_<requestId>_<sha256 of the callbackParameter, 32 hex>``: the first answer
  for one entity of that request (taskman POSTs one callback per entity; :mod:`callback_entities`),
  written by the API server (ORM; a unique key, so of two concurrent answers for one entity exactly
  one is recorded, and answers for different entities never collide), with the values of sensitive
  outputs already masked. Read by the trigger (Task SDK, asynchronously) and the task.

Each Variable's description says what it is and when it expires; the API server deletes expired
ones now and then (``[wecube] callback_retention_days``, default 7 days after the call's deadline).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

log = logging.getLogger(__name__)

REGISTRATION_PREFIX = "wecube_callback_"
RESULT_PREFIX = "wecube_callback_result_"
DEFAULT_RETENTION_DAYS = 7.0
_EXPIRES = re.compile(r"expires (\S+)")
MASK = "***"


def registration_key(token_hash: str) -> str:
    return f"{REGISTRATION_PREFIX}{token_hash}"


def result_key(request_id: str, callback_parameter: str) -> str:
    """Where the answer for one entity of a request is kept (the entity id hashed: any string, fixed length)."""
    digest = hashlib.sha256(str(callback_parameter).encode()).hexdigest()[:32]
    return f"{RESULT_PREFIX}{request_id}_{digest}"


def retention() -> timedelta:
    from airflow_wecube.config import airflow_option

    raw = airflow_option("callback_retention_days")
    try:
        days = float(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        raise ValueError(f"[wecube] callback_retention_days must be a number of days, got {raw!r}") from None
    return timedelta(days=max(days, 0.0))


def _description(what: str, expires: datetime) -> str:
    return f"WeCube async plugin call: {what}; expires {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}"


# ------------------------------------------------------------------ worker side (Task SDK)


def register(token_hash: str, record: dict[str, Any], deadline: datetime | None) -> None:
    """Store a call's registration before its request is sent (from a task: Task SDK Variables)."""
    from airflow.sdk import Variable

    expires = (deadline or datetime.now(timezone.utc)) + retention()
    record = {**record, "expires_at": expires.isoformat()}
    where = f"{record['dag_id']}/{record['run_id']}/{record['task_id']}[{record['map_index']}]"
    Variable.set(
        registration_key(token_hash),
        json.dumps(record),
        description=_description(f"callback registration of {where}, requestId {record['request_id']}", expires),
    )


def read_results(request_id: str, callbacks: list[str]) -> dict[str, dict[str, Any]]:
    """The recorded answers of a request (from a task): ``{callbackParameter: record}``, answered entities only."""
    from airflow.sdk import Variable

    found = {}
    for cb in callbacks:
        raw = Variable.get(result_key(request_id, cb), default=None)
        if raw:
            found[str(cb)] = json.loads(raw)
    return found


async def aread_results(request_id: str, callbacks: list[str]) -> dict[str, dict[str, Any]]:
    """The recorded answers of these entities, read from a trigger without blocking the triggerer's loop."""
    from airflow.sdk.execution_time.secrets.execution_api import ExecutionAPISecretsBackend

    backend = ExecutionAPISecretsBackend()
    found = {}
    for cb in callbacks:
        raw = await backend.aget_variable(result_key(request_id, cb))
        if raw:
            found[str(cb)] = json.loads(raw)
    return found


# ------------------------------------------------------------------ API server side (ORM)


def lookup(token_hash: str) -> dict[str, Any] | None:
    """The registration of a token hash, or None (unknown or expired)."""
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(select(VariableModel).where(VariableModel.key == registration_key(token_hash)))
        raw = row.val if row is not None else None
    if not raw:
        return None
    record = json.loads(raw)
    expires = record.get("expires_at")
    if expires and datetime.fromisoformat(expires) < datetime.now(timezone.utc):
        return None
    return record


def record_results(
    registration: dict[str, Any], token_hash: str, answers: dict[str, dict[str, Any]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Record the first answer of each entity: ``{callbackParameter: (outcome, record)}``.

    ``outcome`` is ``"recorded"`` (``record`` is this answer), ``"same"`` (this entity was answered
    before with the very same body: ``record`` is the first) or ``"different"`` (answered before
    otherwise: the first wins). Each entity is its own row, so concurrent answers for different
    entities are all recorded, and of concurrent answers for one entity exactly one.
    """
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    rid = registration["request_id"]
    sensitive = registration.get("sensitive_outputs") or []
    expires = datetime.fromisoformat(registration["expires_at"])
    outcomes: dict[str, tuple[str, dict[str, Any]]] = {}
    for cb, body in answers.items():
        key = result_key(rid, cb)
        stored = {
            "received_at": datetime.now(timezone.utc).isoformat(),
            "token": token_hash[:12],
            "callbackParameter": cb,
            "body": mask_outputs(body, sensitive),
        }
        try:
            with create_session() as session:
                session.add(
                    VariableModel(
                        key=key,
                        val=json.dumps(stored),
                        description=_description(f"callback for requestId {rid}, callbackParameter {cb}", expires),
                    )
                )
            outcomes[cb] = ("recorded", stored)
        except IntegrityError:
            with create_session() as session:
                row = session.scalar(select(VariableModel).where(VariableModel.key == key))
                first = json.loads(row.val) if row is not None and row.val else {}
            outcomes[cb] = ("same" if first.get("body") == stored["body"] else "different", first)
    return outcomes


def mask_outputs(body: dict[str, Any], sensitive: list[str]) -> dict[str, Any]:
    """A copy of ``body`` with the values of sensitive outputs replaced by ``***``."""
    if not sensitive:
        return body
    body = json.loads(json.dumps(body))
    for o in (body.get("results") or {}).get("outputs") or []:
        for name in set(sensitive) & set(o):
            o[name] = MASK
    return body


_last_purge = 0.0
_purge_lock = threading.Lock()


def purge_expired(every: float = 3600.0, now: datetime | None = None) -> int:
    """Delete registrations and results past their expiry (at most once per ``every`` seconds per process)."""
    global _last_purge
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select

    with _purge_lock:
        if time.monotonic() - _last_purge < every:
            return 0
        _last_purge = time.monotonic()
    now = now or datetime.now(timezone.utc)
    with create_session() as session:
        rows = session.execute(
            select(VariableModel.key, VariableModel.description).where(
                VariableModel.key.startswith(REGISTRATION_PREFIX)
            )
        ).all()
        old = []
        for key, description in rows:
            m = _EXPIRES.search(description or "")
            if m and datetime.fromisoformat(m.group(1).replace("Z", "+00:00")) < now:
                old.append(key)
        if old:
            session.execute(delete(VariableModel).where(VariableModel.key.in_(old)))
    if old:
        log.info("Deleted %d expired WeCube callback record(s)", len(old))
    return len(old)
