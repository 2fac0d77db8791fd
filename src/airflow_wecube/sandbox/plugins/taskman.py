"""``taskman``: manual tasks, as WeCube's taskman plugin serves them, in a small inbox.

Services (same paths, parameters and ``isAsyncProcessing="Y"`` as taskman's ``register.xml``):

``taskman/task/create-by-template``  ``POST /taskman/api/v1/plugin/task/create`` (DYNAMICFORM): a
                                     form task; ``taskFormInput`` (a JSON object) is its form
``taskman/task/create-custom``       ``POST /taskman/api/v1/plugin/task/create/custom`` (APPROVAL):
                                     an approval task; ``taskName``, ``roleName``, ``reporter`` required

Each entity (``inputs`` element) becomes one open task, and the call is answered at once with
taskman's acknowledgement: one output per entity (``comment`` and ``taskFormOutput`` empty,
``errorCode "0"``), or a per-entity error (no ``callbackUrl``, a bad one, a bad form). Besides the
inputs, the request's top level may carry, as taskman reads them:

* ``allowedOptions``: the options a person chooses from (a list of strings; a JSON list or a
  comma-separated string are accepted too); the chosen one is the callback's ``resultCode``;
* ``dueDate``: minutes from now (taskman's reading) or an ISO 8601 date; shown on the task.

A ``requestId`` seen before gets the first answer again and creates nothing (a retried call).
The tasks wait in the inbox (:mod:`~airflow_wecube.sandbox.plugins.taskman_inbox`: page at
``/taskman/inbox``, JSON under ``/taskman/inbox/api``); completing or rejecting one POSTs the
callback to its ``callbackUrl`` (:mod:`~airflow_wecube.sandbox.plugins.taskman_delivery`).
Tasks and deliveries live in the sandbox database, so a restart keeps them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from airflow_wecube.protocol.wire import PluginResponse
from airflow_wecube.sandbox.plugin import Call, EntityError, SandboxPackage, _per_entity, failure, present, text
from airflow_wecube.sandbox.plugins import taskman_tasks as tasks
from airflow_wecube.sandbox.plugins.taskman_delivery import DeliverySettings, resolve_url
from airflow_wecube.sandbox.plugins.taskman_inbox import inbox_router

#: at most this many options per task, each at most :data:`MAX_OPTION` characters
MAX_OPTIONS = 20
MAX_OPTION = 100

package = SandboxPackage("taskman", schema=tasks.SCHEMA)
task = package.plugin("task")
package.add_routes(inbox_router)


def allowed_options(value: Any) -> list[str]:
    """``allowedOptions`` as taskman keeps them: non-empty strings, in order, without repeats.

    :raises EntityError: not a list of strings (nor a JSON list or comma-separated string), too
        many, too long, or an option holding a comma (taskman stores them comma-separated)
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        raw = value.strip()
        if raw.startswith("["):
            try:
                value = json.loads(raw)
            except ValueError:
                raise EntityError(
                    "allowedOptions must be a list of strings, got a string that is not a JSON list"
                ) from None
        else:
            value = raw.split(",")
    if not isinstance(value, list):
        raise EntityError(f"allowedOptions must be a list of strings, got {type(value).__name__}")
    options: list[str] = []
    for item in value:
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            raise EntityError(f"allowedOptions must be a list of strings, got an item {item!r}")
        option = str(item).strip()
        if "," in option:
            raise EntityError(f"option {option!r} contains a comma (taskman keeps options comma-separated)")
        if len(option) > MAX_OPTION:
            raise EntityError(f"option {option[:20]!r}... is longer than {MAX_OPTION} characters")
        if option and option not in options:
            options.append(option)
    if len(options) > MAX_OPTIONS:
        raise EntityError(f"allowedOptions has {len(options)} options; at most {MAX_OPTIONS} are accepted")
    return options


def due_date(value: Any, now: float) -> float | None:
    """``dueDate`` as a time stamp: minutes from ``now`` (taskman's reading; 0 or less: none) or
    an ISO 8601 date (UTC unless it says otherwise).

    :raises EntityError: neither
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return now + value * 60 if value > 0 else None
    raw = str(value).strip()
    try:
        minutes = int(raw)
    except ValueError:
        pass
    else:
        return now + minutes * 60 if minutes > 0 else None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise EntityError(
            f"dueDate must be minutes from now (e.g. 30) or an ISO 8601 date (e.g. 2026-12-01T18:00:00Z), got {raw!r}"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _form_input(entity: dict[str, Any]) -> str:
    value = entity.get("taskFormInput")
    if not present(value):
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise EntityError(
                "input taskFormInput must be a JSON object (taskman's form), got a string that is not JSON"
            ) from None
    if not isinstance(value, dict):
        raise EntityError(f"input taskFormInput must be a JSON object (taskman's form), got {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"))


def _create(call: Call, kind: str) -> PluginResponse:
    extra = call.request.model_extra or {}
    now = time.time()
    try:
        options = allowed_options(extra.get("allowedOptions"))
        due_at = due_date(extra.get("dueDate"), now)
        settings = DeliverySettings.from_env()
    except (EntityError, ValueError) as e:
        return failure(f"bad request: {e}")
    request_id = call.request_id
    with call.store.transaction() as db:
        seen = db.execute("SELECT service, response FROM taskman_requests WHERE request_id = ?", (request_id,))
        seen = seen.fetchone()
        if seen is not None:
            if seen["service"] != call.service:
                return failure(f"requestId {request_id!r} was already used for {seen['service']}; send a new one")
            return PluginResponse.model_validate(json.loads(seen["response"]))
        entities: set[str] = set()

        def one(entity: dict[str, Any], call: Call) -> dict[str, Any]:
            cb = str(entity["callbackParameter"])
            if cb in entities:
                raise EntityError(f"callbackParameter {cb!r} appears twice in this request")
            callback_url = text(entity, "callbackUrl").strip()
            try:
                resolve_url(callback_url, settings.base_url)
            except ValueError as e:
                raise EntityError(str(e)) from None
            form = _form_input(entity) if kind == "DYNAMICFORM" else ""
            tasks.insert(
                db,
                {
                    "id": tasks.new_task_id(),
                    "request_id": request_id,
                    "service": call.service,
                    "kind": kind,
                    "callback_parameter": cb,
                    "callback_url": callback_url,
                    "proc_inst_id": text(entity, "procInstId"),
                    "name": text(entity, "taskName").strip() or f"{kind.lower()} task {cb}",
                    "description": text(entity, "taskDescription"),
                    "role_name": text(entity, "roleName").strip(),
                    "reporter": text(entity, "reporter").strip(),
                    "handler": text(entity, "handler").strip(),
                    "form_input": form,
                    "allowed_options": json.dumps(options),
                    "due_at": due_at,
                    "created_at": now,
                },
            )
            entities.add(cb)
            return {"comment": "", "taskFormOutput": ""}

        response = _per_entity(call, one)
        if entities:  # a call that created nothing stored nothing: a corrected retry goes through
            db.execute(
                "INSERT INTO taskman_requests (request_id, service, received_at, response) VALUES (?, ?, ?, ?)",
                (request_id, call.service, now, json.dumps(response.to_wire())),
            )
    return response


@task.request("create-by-template", path="/taskman/api/v1/plugin/task/create")
def create_by_template(call: Call) -> PluginResponse:
    """One form task per entity (DYNAMICFORM); the person's form comes back as ``taskFormOutput``."""
    return _create(call, "DYNAMICFORM")


@task.request("create-custom", path="/taskman/api/v1/plugin/task/create/custom")
def create_custom(call: Call) -> PluginResponse:
    """One approval task per entity (APPROVAL); the chosen option comes back as ``resultCode``."""
    return _create(call, "APPROVAL")
