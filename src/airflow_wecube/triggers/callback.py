"""Wait in the triggerer for the callback of an asynchronous plugin call (no worker slot)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class PluginCallbackTrigger(BaseTrigger):
    """Fire once every entity of ``request_id`` has its callback recorded, or when ``end_time`` passes.

    The API server records callbacks (``ui/callbacks.py``) in Airflow's metadata DB, one answer per
    entity (taskman sends one callback per entity); this trigger polls those records through the Task
    SDK, looking again only for the entities still waiting. A callback that came before the trigger
    started (even before the task deferred: an instant answer) is found by the first poll.

    Events: ``{"status": "callback", "request_id"}`` or ``{"status": "timeout", "request_id",
    "waiting": [callbackParameter, ...]}``.

    :param request_id: the call's ``requestId``
    :param callbacks: the ``callbackParameter`` of each entity the call sent
    :param end_time: unix seconds after which it gives up (None: never); absolute, so a triggerer
        restart does not extend the wait
    :param not_before: unix seconds before which no event fires. The operator sets it to its deferral +
        ``settle_seconds()``: Airflow 3.3.2 fails a task resumed before the scheduler has seen its
        worker's exit (see ``airflow_wecube.compat.settle``), and a plugin may answer at once.
    :param poll_interval: seconds between two looks at the record
    """

    def __init__(
        self,
        request_id: str,
        callbacks: list[str] | None = None,
        end_time: float | None = None,
        not_before: float | None = None,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__()
        self.request_id = request_id
        if not callbacks:
            raise ValueError("PluginCallbackTrigger needs the callbackParameter of each entity the call sent")
        self.callbacks = [str(c) for c in callbacks]
        self.end_time = end_time
        self.not_before = not_before
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "request_id": self.request_id,
                "callbacks": self.callbacks,
                "end_time": self.end_time,
                "not_before": self.not_before,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_wecube.callbacks.store import aread_results

        if self.not_before is not None and self.not_before > time.time():
            await asyncio.sleep(self.not_before - time.time())
        answered: dict[str, str] = {}
        while True:
            waiting = [cb for cb in self.callbacks if cb not in answered]
            try:
                found = await aread_results(self.request_id, waiting)
            except Exception as exc:  # a busy API server: look again, the callbacks are kept
                self.log.warning("Could not read the callback records of %s (%s); looking again", self.request_id, exc)
                found = {}
            for cb, record in found.items():
                answered[cb] = record.get("received_at")
                self.log.info(
                    "Callback for requestId %s, callbackParameter %s received at %s",
                    self.request_id,
                    cb,
                    record.get("received_at"),
                )
            waiting = [cb for cb in self.callbacks if cb not in answered]
            if not waiting:
                yield TriggerEvent({"status": "callback", "request_id": self.request_id})
                return
            delay = self.poll_interval
            if self.end_time is not None:
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "request_id": self.request_id, "waiting": waiting})
                    return
                delay = min(delay, remaining)
            await asyncio.sleep(delay)
