"""The apache/airflow#71360 workaround: asked again on HTTP 500 only, a bounded number of times."""

from __future__ import annotations

import pytest

from airflow_wecube.compat.asset_events import asked_again_on_500


class Status(Exception):
    def __init__(self, status: int):
        self.status = status


def answers(*outcomes):
    seq = iter(outcomes)
    calls = []

    def call():
        calls.append(1)
        outcome = next(seq)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return call, calls


def test_a_500_is_asked_again_until_it_answers():
    call, calls = answers(Status(500), Status(500), ["event"])
    assert asked_again_on_500(call, lambda e: e.status, backoff=(0, 0, 0)) == ["event"] and len(calls) == 3


def test_other_errors_and_a_500_that_stays_are_raised():
    call, calls = answers(Status(404))
    with pytest.raises(Status):
        asked_again_on_500(call, lambda e: e.status, backoff=(0, 0))
    assert len(calls) == 1
    call, calls = answers(Status(500), Status(500), Status(500))
    with pytest.raises(Status):
        asked_again_on_500(call, lambda e: e.status, backoff=(0, 0))
    assert len(calls) == 3
