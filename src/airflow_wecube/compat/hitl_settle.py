"""API-server middleware: an answer to a HITL request waits until its task's park has settled.

Airflow 3.3.2 resumes a parked HITL task the moment ``PATCH .../hitlDetails`` is answered; if that
happens before the scheduler has processed the exit of the worker that parked it, the scheduler fails
the resumed task (see ``airflow_wecube.compat.settle``). The task cannot help: the request is open
before it parks, and a worker cannot read the answer. So the answer is held here instead, until the
task has been parked for ``settle_seconds()`` (or is no longer running / parked), then passed on
unchanged: Airflow still does the checks (403, 409, 400) and the resume. Holds at most ``max_hold``
seconds. Only that one route is touched; every other request passes straight through.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

import anyio

HITL_ANSWER = re.compile(r"/dags/([^/]+)/dagRuns/([^/]+)/taskInstances/([^/]+)/(-?\d+)/hitlDetails/?")
PARKED = {"awaiting_input", "deferred"}


def _ti(dag_id: str, run_id: str, task_id: str, map_index: int) -> tuple[str | None, datetime | None] | None:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.execute(
            select(TI.state, TI.updated_at).where(
                TI.dag_id == dag_id, TI.run_id == run_id, TI.task_id == task_id, TI.map_index == map_index
            )
        ).first()
    return (str(row[0].value if hasattr(row[0], "value") else row[0]) if row[0] else None, row[1]) if row else None


def hold_for(state: str | None, updated_at: datetime | None, now: datetime, settle: float) -> float | None:
    """Seconds to hold an answer for a task in ``state`` last changed at ``updated_at``; None: pass it on."""
    if state == "running":  # the worker is opening the request and about to park
        return 0.25
    if state in PARKED and updated_at is not None:
        if updated_at.tzinfo is None:
            updated_at = updated_at.replace(tzinfo=timezone.utc)
        left = settle - (now - updated_at).total_seconds()
        return left if left > 0 else None
    return None


class HITLAnswerSettleMiddleware:
    """Pure ASGI middleware (no body buffering); see the module docstring."""

    def __init__(self, app: Any, max_hold: float = 30.0) -> None:
        self.app = app
        self.max_hold = max_hold

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and scope.get("method") == "PATCH":
            match = HITL_ANSWER.search(scope.get("path") or "")
            if match:
                await self._hold(match.group(1), match.group(2), match.group(3), int(match.group(4)))
        await self.app(scope, receive, send)

    async def _hold(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
        from airflow_wecube.compat.settle import settle_seconds

        try:
            settle = settle_seconds()
        except ValueError:
            settle = 10.0
        if settle <= 0:
            return
        give_up = time.monotonic() + self.max_hold
        while time.monotonic() < give_up:
            try:
                found = await anyio.to_thread.run_sync(_ti, dag_id, run_id, task_id, map_index)
            except Exception:  # never lose an answer over the workaround: let Airflow handle it
                return
            if found is None:
                return
            wait = hold_for(found[0], found[1], datetime.now(timezone.utc), settle)
            if wait is None:
                return
            await anyio.sleep(min(wait, max(0.0, give_up - time.monotonic())))
