"""PluginCallbackTrigger outside a triggerer: it serialises, holds its first event until ``not_before``,
and gives up at ``end_time`` (with no triggerer there is no store to read: nothing is ever found)."""

from __future__ import annotations

import asyncio
import time

from airflow_wecube.triggers.callback import PluginCallbackTrigger


def first_event(trigger):
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(run())


def test_serialises_its_arguments():
    t = PluginCallbackTrigger("r-1", end_time=10.0, not_before=5.0, poll_interval=0.5)
    path, kwargs = t.serialize()
    assert path == "airflow_wecube.triggers.callback.PluginCallbackTrigger"
    assert PluginCallbackTrigger(**kwargs).serialize() == (path, kwargs)


def test_times_out_at_end_time_but_never_before_not_before():
    start = time.time()
    event = first_event(PluginCallbackTrigger("r-2", end_time=start, not_before=start + 0.6, poll_interval=0.1))
    assert event == {"status": "timeout", "request_id": "r-2"}
    assert time.time() - start >= 0.6  # held until not_before: Airflow's resume race (settle.py)
