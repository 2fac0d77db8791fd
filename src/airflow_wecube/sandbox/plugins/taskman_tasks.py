"""The ``taskman`` inbox's tasks: their table, how they read as JSON, and how a person closes one.

A task is one entity of one ``task/create*`` call. Closing it (complete or reject) records the
answer and the WeCube callback body taskman would send (one output: this task's entity), and marks
its delivery ``pending``; :mod:`~airflow_wecube.sandbox.plugins.taskman_delivery` then POSTs it.

The callback body is taskman's (``service/task_service.go``, ``getApproveCallbackParam``)::

    {"resultCode": "<chosen option, else 0>", "resultMessage": "",
     "results": {"requestId": "<the create call's requestId>",
                 "outputs": [{"callbackParameter": "...", "comment": "...", "taskFormOutput": "...",
                              "errorCode": "0", "errorMessage": ""}]}}

A reject picks the task's rejecting option when its ``allowedOptions`` has one (:data:`REJECT_OPTIONS`);
otherwise the callback fails the entity: ``resultCode "1"``, ``errorCode "1"``, the comment in
``errorMessage``.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from airflow_wecube.sandbox.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS taskman_requests (
    request_id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    received_at REAL NOT NULL,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS taskman_tasks (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    callback_parameter TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    proc_inst_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    role_name TEXT NOT NULL,
    reporter TEXT NOT NULL,
    handler TEXT NOT NULL,
    form_input TEXT NOT NULL,
    allowed_options TEXT NOT NULL,
    due_at REAL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    chosen_option TEXT,
    comment TEXT,
    form_output TEXT,
    closed_by TEXT,
    closed_at REAL,
    callback_body TEXT,
    delivery TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    claimed_until REAL,
    last_error TEXT,
    delivered_at REAL,
    UNIQUE (request_id, callback_parameter)
);
CREATE INDEX IF NOT EXISTS taskman_tasks_status ON taskman_tasks(status);
CREATE INDEX IF NOT EXISTS taskman_tasks_delivery ON taskman_tasks(delivery, next_attempt_at)
"""

#: task states: waiting for a person, answered, refused
OPEN, DONE, REJECTED = "open", "done", "rejected"
#: delivery states of a closed task's callback
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

#: options that mean "no" (case-insensitive): what a reject chooses when the task allows one
REJECT_OPTIONS = ("reject", "rejected", "deny", "denied", "disapprove", "decline", "no")

#: at most this many characters of a comment or a form output
MAX_TEXT = 20_000


class TaskNotFound(LookupError):
    """No task has this id."""


class TaskConflict(Exception):
    """The task is not in a state that allows this action (already answered, callback delivered)."""


class BadAnswer(ValueError):
    """The answer given is not one this task accepts (an option it does not allow, a bad form)."""


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def new_task_id() -> str:
    return uuid.uuid4().hex


def to_json(row: sqlite3.Row) -> dict[str, Any]:
    """A task as the inbox API shows it."""
    body = json.loads(row["callback_body"]) if row["callback_body"] else None
    return {
        "id": row["id"],
        "requestId": row["request_id"],
        "serviceName": row["service"],
        "type": row["kind"],
        "callbackParameter": row["callback_parameter"],
        "callbackUrl": row["callback_url"],
        "procInstId": row["proc_inst_id"],
        "taskName": row["name"],
        "taskDescription": row["description"],
        "roleName": row["role_name"],
        "reporter": row["reporter"],
        "handler": row["handler"],
        "taskFormInput": row["form_input"],
        "allowedOptions": json.loads(row["allowed_options"]),
        "dueAt": iso(row["due_at"]),
        "overdue": row["status"] == OPEN and row["due_at"] is not None and row["due_at"] < time.time(),
        "createdAt": iso(row["created_at"]),
        "status": row["status"],
        "chosenOption": row["chosen_option"],
        "comment": row["comment"],
        "taskFormOutput": row["form_output"],
        "closedBy": row["closed_by"],
        "closedAt": iso(row["closed_at"]),
        "callback": None
        if row["delivery"] is None
        else {
            "status": row["delivery"],
            "attempts": row["attempts"],
            "lastError": row["last_error"],
            "nextAttemptAt": iso(row["next_attempt_at"]) if row["delivery"] == PENDING else None,
            "deliveredAt": iso(row["delivered_at"]),
            "body": body,
        },
    }


def insert(db: sqlite3.Connection, task: dict[str, Any]) -> None:
    """Store a new open task (``task`` holds the columns by name)."""
    columns = ", ".join(task)
    marks = ", ".join("?" for _ in task)
    db.execute(f"INSERT INTO taskman_tasks ({columns}, status) VALUES ({marks}, ?)", (*task.values(), OPEN))


def list_tasks(store: Store, status: str | None = OPEN, limit: int = 200) -> list[dict[str, Any]]:
    """Tasks in ``status`` (``None``: all), open ones oldest first, closed ones newest first."""
    order = "created_at, id" if status == OPEN else "COALESCE(closed_at, created_at) DESC, id"
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = store.connection().execute(f"SELECT * FROM taskman_tasks {where} ORDER BY {order} LIMIT ?", (*args, limit))
    return [to_json(r) for r in rows.fetchall()]


def get_row(db: sqlite3.Connection, task_id: str) -> sqlite3.Row:
    row = db.execute("SELECT * FROM taskman_tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise TaskNotFound(f"no task {task_id!r} in the inbox (GET /taskman/inbox/api/tasks lists them)")
    return row


def get_task(store: Store, task_id: str) -> dict[str, Any]:
    return to_json(get_row(store.connection(), task_id))


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadAnswer(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise BadAnswer(f"{name} is {len(value)} characters long; at most {MAX_TEXT} are accepted")
    return value


def _form_output(row: sqlite3.Row, value: Any) -> str:
    """The form a person sends back: a JSON object (or a string holding one); by default the form as
    it was given (``taskFormInput``). Only form tasks (DYNAMICFORM) have one."""
    if value is None or value == "":
        return row["form_input"] if row["kind"] == "DYNAMICFORM" else ""
    if row["kind"] != "DYNAMICFORM":
        raise BadAnswer(f"task {row['id']} is an {row['kind']} task: it has no form (taskFormOutput)")
    if isinstance(value, str):
        _text(value, "taskFormOutput")
        try:
            value = json.loads(value)
        except ValueError:
            raise BadAnswer(
                "taskFormOutput must be a JSON object (taskman's form), got a string that is not JSON"
            ) from None
    if not isinstance(value, dict):
        raise BadAnswer(f"taskFormOutput must be a JSON object (taskman's form), got {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"))


def _option(row: sqlite3.Row, value: Any) -> str:
    allowed: list[str] = json.loads(row["allowed_options"])
    option = _text(value, "option").strip()
    if not allowed:
        if option:
            raise BadAnswer(f"task {row['id']} offers no options (its request had no allowedOptions); send none")
        return ""
    if not option:
        raise BadAnswer(f"choose an option for task {row['id']}: one of {', '.join(allowed)}")
    if option not in allowed:
        raise BadAnswer(f"option {option!r} is not one task {row['id']} allows: {', '.join(allowed)}")
    return option


def rejecting_option(allowed: list[str]) -> str:
    """The first of ``allowed`` that means no (:data:`REJECT_OPTIONS`), else ``""``."""
    return next((o for o in allowed if o.strip().lower() in REJECT_OPTIONS), "")


def callback_body(row: sqlite3.Row, *, code: str, comment: str, form_output: str, error: str = "") -> dict[str, Any]:
    """The body taskman POSTs to ``callbackUrl`` for this task (see the module docstring)."""
    return {
        "resultCode": code,
        "resultMessage": error,
        "results": {
            "requestId": row["request_id"],
            "outputs": [
                {
                    "callbackParameter": row["callback_parameter"],
                    "comment": comment,
                    "taskFormOutput": form_output,
                    "errorCode": "1" if error else "0",
                    "errorMessage": error,
                }
            ],
        },
    }


def _close(store: Store, task_id: str, *, status: str, option: Any, comment: Any, form: Any, by: Any) -> dict[str, Any]:
    with store.transaction() as db:
        row = get_row(db, task_id)
        if row["status"] != OPEN:
            raise TaskConflict(f"task {task_id} is already {row['status']} (by {row['closed_by'] or 'someone'})")
        note = _text(comment, "comment")
        who = _text(by, "handler").strip() or row["handler"] or "sandbox"
        if status == DONE:
            chosen, output = _option(row, option), _form_output(row, form)
            body = callback_body(row, code=chosen or "0", comment=note, form_output=output)
        else:
            chosen, output = rejecting_option(json.loads(row["allowed_options"])), ""
            error = "" if chosen else f"task rejected by {who}" + (f": {note}" if note else "")
            body = callback_body(row, code=chosen or "1", comment=note, form_output="", error=error)
        now = time.time()
        db.execute(
            "UPDATE taskman_tasks SET status = ?, chosen_option = ?, comment = ?, form_output = ?, closed_by = ?,"
            " closed_at = ?, callback_body = ?, delivery = ?, attempts = 0, next_attempt_at = ?, last_error = NULL"
            " WHERE id = ?",
            (status, chosen or None, note, output, who, now, json.dumps(body), PENDING, now, task_id),
        )
        return to_json(get_row(db, task_id))


def complete(
    store: Store, task_id: str, *, option: Any = None, comment: Any = None, form: Any = None, by: Any = None
) -> dict[str, Any]:
    """Answer an open task; its callback is queued.

    :raises TaskNotFound: unknown id
    :raises TaskConflict: the task is no longer open
    :raises BadAnswer: an option the task does not offer (or none when it offers some), a bad form
    """
    return _close(store, task_id, status=DONE, option=option, comment=comment, form=form, by=by)


def reject(store: Store, task_id: str, *, comment: Any = None, by: Any = None) -> dict[str, Any]:
    """Refuse an open task; its callback is queued (see the module docstring for what it says)."""
    return _close(store, task_id, status=REJECTED, option=None, comment=comment, form=None, by=by)


def redeliver(store: Store, task_id: str) -> dict[str, Any]:
    """Queue a closed task's callback again (after its delivery failed, or while it waits to retry).

    :raises TaskConflict: the task is open, or its callback was delivered
    """
    with store.transaction() as db:
        row = get_row(db, task_id)
        if row["status"] == OPEN:
            raise TaskConflict(f"task {task_id} is still open: complete or reject it first")
        if row["delivery"] == DELIVERED:
            raise TaskConflict(f"the callback of task {task_id} was delivered at {iso(row['delivered_at'])}")
        db.execute(
            "UPDATE taskman_tasks SET delivery = ?, attempts = 0, next_attempt_at = ? WHERE id = ?",
            (PENDING, time.time(), task_id),
        )
        return to_json(get_row(db, task_id))
