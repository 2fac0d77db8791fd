"""The ``taskman`` inbox: a JSON API and a plain page where a person answers the open tasks.

``GET  /taskman/inbox``                               the page: open tasks with a form each, then the
                                                      latest closed ones with their callback's state
``GET  /taskman/inbox/api/tasks``                     tasks, ``?status=open`` (default) | ``done`` |
                                                      ``rejected`` | ``all``; ``?requestId=`` / ``?procInstId=``
``GET  /taskman/inbox/api/tasks/<id>``                one task (404 if unknown)
``POST /taskman/inbox/api/tasks/<id>/complete``       ``{"option", "comment", "taskFormOutput", "handler"}``
``POST /taskman/inbox/api/tasks/<id>/reject``         ``{"comment", "handler"}``
``POST /taskman/inbox/api/tasks/<id>/redeliver``      send a closed task's callback again

Answers: the task as JSON (its ``callback`` holds the delivery state and the body sent); 400 for a
bad answer, 404 for an unknown task, 409 when the task is not open (or already delivered). The
page posts plain HTML forms to ``/taskman/inbox/tasks/<id>/<action>`` and redirects back.

Like ``/sandbox/services``, the inbox needs no token: it plays a person at the sandbox, on loopback.
"""

from __future__ import annotations

import html
import json
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from airflow_wecube.sandbox.plugins import taskman_tasks as tasks
from airflow_wecube.sandbox.plugins.taskman_delivery import DeliverySettings, DeliveryWorker, deliver
from airflow_wecube.sandbox.store import Store

PREFIX = "/taskman/inbox"
STATUSES = (tasks.OPEN, tasks.DONE, tasks.REJECTED, "all")
#: closed tasks shown under the open ones on the page
RECENT = 20

_STYLE = """
body{font-family:sans-serif;margin:1.5em;max-width:70em}
.task{border:1px solid #bbb;border-radius:6px;padding:.8em;margin:.8em 0}
.meta{color:#555;font-size:90%} textarea{width:100%;font-family:monospace}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
.failed{color:#b00} .delivered{color:#070} .pending{color:#a60} .error{background:#fee;padding:.5em}
"""


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise HTTPException(400, f"the body must be a JSON object, got {type(body).__name__}")
    return body


def _form_body(raw: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


def inbox_router(store: Store) -> APIRouter:
    """The inbox's routes for the sandbox whose database is ``store``, with its callback worker."""
    settings = DeliverySettings.from_env()
    worker = DeliveryWorker(store, settings)

    @asynccontextmanager
    async def lifespan(app):
        worker.start()
        yield
        await run_in_threadpool(worker.stop)

    router = APIRouter(tags=["taskman inbox"], lifespan=lifespan)

    def act(task_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run ``action`` on the task, then make its first delivery attempt at once."""
        if action == "complete":
            tasks.complete(
                store,
                task_id,
                option=body.get("option"),
                comment=body.get("comment"),
                form=body.get("taskFormOutput"),
                by=body.get("handler"),
            )
        elif action == "reject":
            tasks.reject(store, task_id, comment=body.get("comment"), by=body.get("handler"))
        else:
            tasks.redeliver(store, task_id)
        deliver(store, task_id, settings)
        worker.poke()
        return tasks.get_task(store, task_id)

    def act_or_http(task_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return act(task_id, action, body)
        except tasks.TaskNotFound as e:
            raise HTTPException(404, str(e)) from None
        except tasks.TaskConflict as e:
            raise HTTPException(409, str(e)) from None
        except tasks.BadAnswer as e:
            raise HTTPException(400, str(e)) from None

    @router.get(f"{PREFIX}/api/tasks")
    def list_tasks(
        status: str = Query(default=tasks.OPEN, description="open | done | rejected | all"),
        request_id: str | None = Query(default=None, alias="requestId"),
        proc_inst_id: str | None = Query(default=None, alias="procInstId"),
    ) -> list[dict[str, Any]]:
        """Tasks of the inbox (open ones oldest first, closed ones newest first)."""
        if status not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        found = tasks.list_tasks(store, None if status == "all" else status, limit=1000)
        return [
            t
            for t in found
            if (request_id is None or t["requestId"] == request_id)
            and (proc_inst_id is None or t["procInstId"] == proc_inst_id)
        ]

    @router.get(f"{PREFIX}/api/tasks/{{task_id}}")
    def get_task(task_id: str) -> dict[str, Any]:
        try:
            return tasks.get_task(store, task_id)
        except tasks.TaskNotFound as e:
            raise HTTPException(404, str(e)) from None

    for action in ("complete", "reject", "redeliver"):
        router.add_api_route(
            f"{PREFIX}/api/tasks/{{task_id}}/{action}",
            _api_endpoint(action, act_or_http),
            methods=["POST"],
            name=f"taskman inbox {action}",
        )

    @router.get(PREFIX, response_class=HTMLResponse)
    def page(error: str | None = None) -> HTMLResponse:
        """The inbox page: a form per open task, and the latest closed tasks."""
        return HTMLResponse(render_page(store, error))

    @router.post(f"{PREFIX}/tasks/{{task_id}}/{{action}}")
    async def form_post(task_id: str, action: str, request: Request) -> RedirectResponse:
        """What the page's forms post (``application/x-www-form-urlencoded``); back to the page."""
        if action not in ("complete", "reject", "redeliver"):
            raise HTTPException(404, f"no action {action!r}: complete, reject or redeliver")
        body = _form_body(await request.body())
        try:
            await run_in_threadpool(act, task_id, action, body)
        except (tasks.TaskNotFound, tasks.TaskConflict, tasks.BadAnswer) as e:
            return RedirectResponse(f"{PREFIX}?error={quote(str(e))}#task-{task_id}", status_code=303)
        return RedirectResponse(f"{PREFIX}#task-{task_id}", status_code=303)

    return router


def _api_endpoint(action: str, act_or_http):
    async def endpoint(task_id: str, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        return await run_in_threadpool(act_or_http, task_id, action, body)

    endpoint.__name__ = f"{action}_task"
    endpoint.__doc__ = {
        "complete": "Answer an open task (option, comment, taskFormOutput, handler); its callback is sent.",
        "reject": "Refuse an open task (comment, handler); its callback is sent.",
        "redeliver": "Send a closed task's callback again (after its delivery failed).",
    }[action]
    return endpoint


# -- the page -------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _open_task(t: dict[str, Any]) -> str:
    tid = _e(t["id"])
    meta = " · ".join(
        f"{label}: {_e(t[key])}"
        for label, key in (
            ("type", "type"),
            ("role", "roleName"),
            ("reporter", "reporter"),
            ("handler", "handler"),
            ("process", "procInstId"),
            ("requestId", "requestId"),
            ("created", "createdAt"),
            ("due", "dueAt"),
        )
        if t[key]
    )
    if t["allowedOptions"]:
        choices = "".join(
            f'<label><input type="radio" name="option" value="{_e(o)}" required> {_e(o)}</label> '
            for o in t["allowedOptions"]
        )
        choose = f"<p>Option: {choices}</p>"
    else:
        choose = ""
    form = ""
    if t["type"] == "DYNAMICFORM":
        form = (
            '<p>Form (taskFormOutput, JSON):<br><textarea name="taskFormOutput" rows="6">'
            f"{_e(t['taskFormInput'])}</textarea></p>"
        )
    return f"""<div class="task" id="task-{tid}">
<h3>{_e(t["taskName"])}{' <span class="failed">(overdue)</span>' if t["overdue"] else ""}</h3>
<p>{_e(t["taskDescription"])}</p>
<p class="meta">{meta}</p>
<form method="post" action="{PREFIX}/tasks/{tid}/complete">
{choose}{form}<p>Comment:<br><textarea name="comment" rows="2"></textarea></p>
<p>Handler: <input name="handler" value="{_e(t["handler"])}"> <button type="submit">Complete</button></p>
</form>
<form method="post" action="{PREFIX}/tasks/{tid}/reject">
<p>Reason: <input name="comment" size="50"> <button type="submit">Reject</button></p>
</form>
</div>"""


def _closed_row(t: dict[str, Any]) -> str:
    cb = t["callback"] or {}
    state = cb.get("status", "")
    detail = f"attempts {cb.get('attempts', 0)}"
    if cb.get("lastError"):
        detail += f"; last error: {cb['lastError']}"
    if state == tasks.PENDING and cb.get("nextAttemptAt"):
        detail += f"; next attempt {cb['nextAttemptAt']}"
    redeliver = ""
    if state in (tasks.FAILED, tasks.PENDING):
        redeliver = (
            f'<form method="post" action="{PREFIX}/tasks/{_e(t["id"])}/redeliver">'
            '<button type="submit">Redeliver</button></form>'
        )
    answer = t["chosenOption"] or ("" if t["status"] == tasks.DONE else "(rejected)")
    return (
        f'<tr id="task-{_e(t["id"])}"><td>{_e(t["taskName"])}</td><td>{_e(t["status"])}</td><td>{_e(answer)}</td>'
        f"<td>{_e(t['comment'])}</td><td>{_e(t['closedBy'])}<br>{_e(t['closedAt'])}</td>"
        f'<td><span class="{_e(state)}">{_e(state)}</span> ({_e(detail)}){redeliver}</td></tr>'
    )


def render_page(store: Store, error: str | None = None) -> str:
    open_tasks = tasks.list_tasks(store, tasks.OPEN)
    closed = tasks.list_tasks(store, tasks.DONE, RECENT) + tasks.list_tasks(store, tasks.REJECTED, RECENT)
    closed.sort(key=lambda t: t["closedAt"] or "", reverse=True)
    body = "".join(_open_task(t) for t in open_tasks) or "<p>No open task.</p>"
    rows = "".join(_closed_row(t) for t in closed[:RECENT])
    table = (
        "<table><tr><th>Task</th><th>Status</th><th>Option</th><th>Comment</th><th>By</th><th>Callback</th></tr>"
        f"{rows}</table>"
        if rows
        else "<p>None yet.</p>"
    )
    banner = f'<p class="error">{_e(error)}</p>' if error else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Sandbox taskman inbox</title><style>{_STYLE}</style></head>
<body><h1>Sandbox taskman inbox</h1>
<p>Manual tasks created through <code>taskman/task/create-custom</code> and <code>create-by-template</code>.
Completing or rejecting one POSTs its callback to the platform. <a href="{PREFIX}">Refresh</a> ·
<a href="{PREFIX}/api/tasks">JSON</a></p>
{banner}<h2>Open tasks ({len(open_tasks)})</h2>
{body}
<h2>Recently closed</h2>
{table}
</body></html>
"""
