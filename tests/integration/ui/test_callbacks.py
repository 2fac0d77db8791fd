"""``POST /wecube/callback/<token>`` served by uvicorn on loopback, over the session's Airflow metadata DB.

The registration is written as the worker writes it (an Airflow Variable); the answers, what is stored
and what is not are checked in the DB itself.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from airflow_wecube.callbacks import store as callback_store
from airflow_wecube.callbacks.tokens import new_token, token_hash

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver(airflow_db):
    """The provider's WeCube app (with the callback app mounted in it) on a free loopback port."""
    import uvicorn
    from fastapi import FastAPI

    from airflow_wecube.ui.app import create_app

    root = FastAPI()  # as Airflow's API server mounts plugin apps: the WeCube app at /wecube
    root.mount("/wecube", create_app())

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="callback-receiver")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the receiver did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def variable(key: str) -> dict | None:
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(select(VariableModel).where(VariableModel.key == key))
        return None if row is None else {"val": row.val, "description": row.description}


def register(request_id: str, *, expires_in: timedelta = timedelta(days=1), sensitive=(), callbacks=("0",)) -> str:
    """Store a registration the way a worker does (an Airflow Variable) and return its token."""
    from airflow.models.variable import Variable as VariableModel
    from airflow.utils.session import create_session

    token = new_token()
    expires = datetime.now(timezone.utc) + expires_in
    record = {
        "request_id": request_id,
        "dag_id": "d",
        "run_id": "r",
        "task_id": "t",
        "map_index": -1,
        "try_number": 1,
        "service": "taskman/task/create-custom",
        "sensitive_outputs": list(sensitive),
        "callbacks": list(callbacks),
        "expires_at": expires.isoformat(),
    }
    with create_session() as session:
        session.add(
            VariableModel(
                key=callback_store.registration_key(token_hash(token)),
                val=json.dumps(record),
                description=f"test; expires {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            )
        )
    return token


def body(request_id: str, code: str = "Approve", comment: str = "ok", cb: str = "0", **extra) -> dict:
    out = {"callbackParameter": cb, "errorCode": "0", "errorMessage": "", "comment": comment, **extra}
    return {"resultCode": code, "resultMessage": "", "results": {"requestId": request_id, "outputs": [out]}}


def post(receiver: str, token: str, payload, **kw) -> requests.Response:
    return requests.post(f"{receiver}/wecube/callback/{token}", json=payload, timeout=30, **kw)


def test_first_callback_is_recorded_without_any_login(receiver):
    assert requests.get(f"{receiver}/wecube/api/plugins", timeout=30).status_code == 401  # pages need a login
    token = register("req-first", sensitive=["secretOut"])
    r = post(receiver, token, body("req-first", secretOut="hunter2"))
    assert r.status_code == 200 and r.json()["status"] == "OK"
    stored = json.loads(variable(callback_store.result_key("req-first", "0"))["val"])
    assert stored["body"]["resultCode"] == "Approve"
    assert stored["body"]["results"]["outputs"][0]["secretOut"] == "***"  # masked before it is stored
    assert (
        token not in json.dumps(stored)
        and "expires" in variable(callback_store.result_key("req-first", "0"))["description"]
    )
    # the token is stored nowhere, only its hash
    assert variable(callback_store.registration_key(token)) is None


def test_unknown_or_expired_token_is_404_and_changes_nothing(receiver):
    r = post(receiver, new_token(), body("req-forged"))
    assert r.status_code == 404 and r.json()["status"] == "ERROR"
    assert post(receiver, "not-a-token", body("req-forged")).status_code == 404
    expired = register("req-expired", expires_in=timedelta(seconds=-1))
    assert post(receiver, expired, body("req-expired")).status_code == 404
    assert variable(callback_store.result_key("req-forged", "0")) is None
    assert variable(callback_store.result_key("req-expired", "0")) is None


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        (b"not json", 400, "not JSON"),
        ({"results": {}}, 400, "no resultCode"),
        ({"resultCode": "0", "results": {"outputs": "x"}}, 400, "list of objects"),
        (body("someone-else"), 400, "not the request this URL was given to"),
        ({"resultCode": "0", "pad": "x" * (1024 * 1024 + 1)}, 413, "over"),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(receiver, payload, status, words):
    token = register("req-bad")
    kw = {"data": payload} if isinstance(payload, bytes) else {"json": payload}
    r = requests.post(f"{receiver}/wecube/callback/{token}", timeout=30, **kw)
    assert r.status_code == status and words in r.json()["message"], r.text
    assert variable(callback_store.result_key("req-bad", "0")) is None


def test_second_callback_is_ignored_first_wins(receiver):
    token = register("req-dup")
    first = body("req-dup", comment="first")
    assert post(receiver, token, first).status_code == 200
    again = post(receiver, token, first)
    assert again.status_code == 200 and "ignored" in again.json()["message"]
    other = post(receiver, token, body("req-dup", code="Reject", comment="second"))
    assert other.status_code == 409 and "first callback wins" in other.json()["message"]
    stored = json.loads(variable(callback_store.result_key("req-dup", "0"))["val"])
    assert stored["body"]["results"]["outputs"][0]["comment"] == "first"


def test_a_retry_token_answers_the_same_request(receiver):
    """A retried task registers a new token for the same requestId: either URL answers it, once."""
    old, new = register("req-retry"), register("req-retry")
    assert post(receiver, old, body("req-retry", comment="via the first try's URL")).status_code == 200
    assert post(receiver, new, body("req-retry", comment="via the second")).status_code == 409


def test_concurrent_callbacks_record_exactly_one(receiver):
    token = register("req-race")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: post(receiver, token, body("req-race", comment=f"c{i}")), range(8)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 1 and codes.count(409) == 7, codes
    winner = next(a for a in answers if a.status_code == 200)
    stored = json.loads(variable(callback_store.result_key("req-race", "0"))["val"])
    assert winner.json()["status"] == "OK" and stored["body"]["results"]["outputs"][0]["comment"].startswith("c")


def test_expired_records_are_purged(receiver):
    token = register("req-old", expires_in=timedelta(seconds=-5))
    key = callback_store.registration_key(token_hash(token))
    assert variable(key) is not None
    callback_store._last_purge = 0.0
    assert callback_store.purge_expired() >= 1
    assert variable(key) is None


def entity_result(request_id: str, cb: str) -> dict | None:
    row = variable(callback_store.result_key(request_id, cb))
    return None if row is None else json.loads(row["val"])


def test_one_callback_per_entity_each_is_recorded(receiver):
    """taskman closes one inbox task per entity and POSTs one callback per task, all with the same requestId."""
    token = register("req-two", callbacks=("a", "b"))
    assert post(receiver, token, body("req-two", comment="for a", cb="a")).status_code == 200
    second = post(receiver, token, body("req-two", code="Reject", comment="for b", cb="b"))
    assert second.status_code == 200 and second.json()["status"] == "OK", second.text
    a, b = entity_result("req-two", "a"), entity_result("req-two", "b")
    assert a["body"]["results"]["outputs"] == [body("req-two", comment="for a", cb="a")["results"]["outputs"][0]]
    assert b["body"]["resultCode"] == "Reject" and b["body"]["results"]["outputs"][0]["comment"] == "for b"


def test_duplicates_count_per_entity(receiver):
    token = register("req-dup2", callbacks=("a", "b"))
    first_a = body("req-dup2", comment="first a", cb="a")
    assert post(receiver, token, first_a).status_code == 200
    again = post(receiver, token, first_a)
    assert again.status_code == 200 and "ignored" in again.json()["message"]
    other = post(receiver, token, body("req-dup2", code="Reject", comment="second a", cb="a"))
    assert (
        other.status_code == 409 and "first callback wins" in other.json()["message"] and "a" in other.json()["message"]
    )
    assert entity_result("req-dup2", "b") is None  # b is still waiting, untouched by a's repeats
    assert post(receiver, token, body("req-dup2", comment="b", cb="b")).status_code == 200
    assert entity_result("req-dup2", "a")["body"]["results"]["outputs"][0]["comment"] == "first a"


def test_an_entity_the_call_did_not_send_is_400_and_records_nothing(receiver):
    token = register("req-unknown", callbacks=("a", "b"))
    r = post(receiver, token, body("req-unknown", cb="c"))
    assert r.status_code == 400 and "callbackParameter 'c'" in r.json()["message"], r.text
    both = body("req-unknown", cb="a")
    both["results"]["outputs"].append({**both["results"]["outputs"][0], "callbackParameter": "c"})
    assert post(receiver, token, both).status_code == 400  # a batch naming one stranger: nothing of it is kept
    assert entity_result("req-unknown", "a") is None and entity_result("req-unknown", "c") is None


def test_one_callback_carrying_every_output_answers_every_entity(receiver):
    """A platform that batches: one callback with the outputs of all entities."""
    token = register("req-batch", callbacks=("a", "b"), sensitive=["secretOut"])
    batch = body("req-batch", cb="a", secretOut="s1")
    batch["results"]["outputs"].append({**batch["results"]["outputs"][0], "callbackParameter": "b", "comment": "bb"})
    assert post(receiver, token, batch).status_code == 200
    assert entity_result("req-batch", "b")["body"]["results"]["outputs"][0]["comment"] == "bb"
    assert entity_result("req-batch", "a")["body"]["results"]["outputs"][0]["secretOut"] == "***"
    assert post(receiver, token, batch).status_code == 200  # the very same batch again: ignored


def test_concurrent_callbacks_for_two_entities_are_all_recorded(receiver):
    """Two entities answered at the same moment, each POSTed four times concurrently: one per entity wins."""
    token = register("req-race2", callbacks=("a", "b"))
    jobs = [(cb, i) for i in range(4) for cb in ("a", "b")]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda j: post(receiver, token, body("req-race2", comment=f"{j[0]}{j[1]}", cb=j[0])), jobs)
        )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) == 2 and codes.count(409) == 6, codes
    for cb in ("a", "b"):
        assert entity_result("req-race2", cb)["body"]["results"]["outputs"][0]["comment"].startswith(cb)
