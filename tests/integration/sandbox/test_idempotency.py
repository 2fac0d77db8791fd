"""A repeated requestId is answered with the first result and does no work twice (idempotency.py).

Airflow retries a task instance with the same requestId (a killed worker, a 5xx): the plugin must
not create a second resource. These run against the session's sandbox process.
"""

from __future__ import annotations

import threading
import time

import requests

from tests.integration.sandbox.helpers import one, outputs, query_ci, uniq


def answers(sandbox, rid: str) -> list[dict]:
    r = requests.get(f"{sandbox.url}/sandbox/answers", params={"request_id": rid}, headers=sandbox.headers, timeout=10)
    r.raise_for_status()
    return r.json()


def test_repeat_gets_the_first_answer_and_creates_nothing(sandbox):
    rid, name = uniq("idem"), uniq("host")
    entity = {"type": "host", "name": name}
    first = sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": "a", **entity}], request_id=rid)
    again = sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": "a", **entity}], request_id=rid)
    assert outputs(first) and again.content == first.content
    # one CI, not two (a second create of the same name would have made another guid or failed)
    assert len(query_ci(sandbox, "host", name)) == 1
    assert [c["replayed"] for c in sandbox.calls(rid)] == [False, True]
    (record,) = answers(sandbox, rid)
    assert (record["serviceName"], record["state"], record["replays"]) == ("cmdb/ci/create", "done", 1)


def test_same_request_id_with_other_inputs_is_refused(sandbox):
    rid = uniq("idem")
    one(sandbox, "/faults/v1/fault/echo", request_id=rid, message="first")
    other = sandbox.post("/faults/v1/fault/echo", [{"callbackParameter": "x", "message": "second"}], request_id=rid)
    body = other.json()
    assert body["resultCode"] == "1"
    assert f"requestId {rid} was already used for faults/fault/echo with other inputs" in body["resultMessage"]
    # the record still holds the first answer
    assert one(sandbox, "/faults/v1/fault/echo", request_id=rid, message="first")["message"] == "first"


def test_failed_answers_are_not_kept_a_retry_runs_again(sandbox):
    rid = uniq("idem")
    inputs = [{"callbackParameter": "a", "message": "quota exceeded"}]
    for _ in range(2):
        assert sandbox.post("/faults/v1/fault/result-code-1", inputs, request_id=rid).json()["resultCode"] == "1"
    assert [c["replayed"] for c in sandbox.calls(rid)] == [False, False]
    assert answers(sandbox, rid) == []


def test_repeat_during_the_first_call_waits_for_its_answer(sandbox):
    """A retry that arrives while the first call still runs (its worker was killed) gets that call's answer."""
    rid = uniq("idem")
    inputs = [{"callbackParameter": "a", "seconds": 3}]
    got: dict[str, requests.Response] = {}
    first = threading.Thread(
        target=lambda: got.setdefault("first", sandbox.post("/faults/v1/fault/delay", inputs, request_id=rid))
    )
    first.start()
    deadline = time.monotonic() + 10
    while not answers(sandbox, rid):
        assert time.monotonic() < deadline, "the first call never started"
        time.sleep(0.05)
    assert answers(sandbox, rid)[0]["state"] == "running"
    second = sandbox.post("/faults/v1/fault/delay", inputs, request_id=rid)
    first.join(10)
    assert second.content == got["first"].content
    # the second got the first's answer: recorded after it, as a replay (the handler ran once)
    assert [c["replayed"] for c in sandbox.calls(rid)] == [False, True]
    assert answers(sandbox, rid)[0]["replays"] == 1
