"""PluginCallbackTrigger outside a triggerer: it serialises, holds its first event until ``not_before``,
and gives up at ``end_time`` naming the entities still waiting (with no triggerer there is no store to
read: nothing is ever found)."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_wecube.triggers.callback import PluginCallbackTrigger


def first_event(trigger):
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(run())


def test_serialises_its_arguments():
    t = PluginCallbackTrigger("r-1", callbacks=["a", "b"], end_time=10.0, not_before=5.0, poll_interval=0.5)
    path, kwargs = t.serialize()
    assert path == "airflow_wecube.triggers.callback.PluginCallbackTrigger"
    assert kwargs["callbacks"] == ["a", "b"]
    assert PluginCallbackTrigger(**kwargs).serialize() == (path, kwargs)


def test_needs_the_entities_to_wait_for():
    with pytest.raises(ValueError, match="callbackParameter of each entity"):
        PluginCallbackTrigger("r-0", callbacks=[])


def test_times_out_at_end_time_but_never_before_not_before():
    start = time.time()
    trigger = PluginCallbackTrigger(
        "r-2", callbacks=["a", "b"], end_time=start, not_before=start + 0.6, poll_interval=0.1
    )
    event = first_event(trigger)
    assert event == {"status": "timeout", "request_id": "r-2", "waiting": ["a", "b"]}
    assert time.time() - start >= 0.6  # held until not_before: Airflow's resume race (settle.py)
