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

from airflow_wecube import callback_store
from airflow_wecube.callback import new_token, token_hash

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


def register(request_id: str, *, expires_in: timedelta = timedelta(days=1), sensitive=()) -> str:
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


def body(request_id: str, code: str = "Approve", comment: str = "ok", **extra) -> dict:
    out = {"callbackParameter": "0", "errorCode": "0", "errorMessage": "", "comment": comment, **extra}
    return {"resultCode": code, "resultMessage": "", "results": {"requestId": request_id, "outputs": [out]}}


def post(receiver: str, token: str, payload, **kw) -> requests.Response:
    return requests.post(f"{receiver}/wecube/callback/{token}", json=payload, timeout=30, **kw)


def test_first_callback_is_recorded_without_any_login(receiver):
    assert requests.get(f"{receiver}/wecube/api/plugins", timeout=30).status_code == 401  # pages need a login
    token = register("req-first", sensitive=["secretOut"])
    r = post(receiver, token, body("req-first", secretOut="hunter2"))
    assert r.status_code == 200 and r.json()["status"] == "OK"
    stored = json.loads(variable(callback_store.result_key("req-first"))["val"])
    assert stored["body"]["resultCode"] == "Approve"
    assert stored["body"]["results"]["outputs"][0]["secretOut"] == "***"  # masked before it is stored
    assert (
        token not in json.dumps(stored) and "expires" in variable(callback_store.result_key("req-first"))["description"]
    )
    # the token is stored nowhere, only its hash
    assert variable(callback_store.registration_key(token)) is None


def test_unknown_or_expired_token_is_404_and_changes_nothing(receiver):
    r = post(receiver, new_token(), body("req-forged"))
    assert r.status_code == 404 and r.json()["status"] == "ERROR"
    assert post(receiver, "not-a-token", body("req-forged")).status_code == 404
    expired = register("req-expired", expires_in=timedelta(seconds=-1))
    assert post(receiver, expired, body("req-expired")).status_code == 404
    assert variable(callback_store.result_key("req-forged")) is None
    assert variable(callback_store.result_key("req-expired")) is None


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
    assert variable(callback_store.result_key("req-bad")) is None


def test_second_callback_is_ignored_first_wins(receiver):
    token = register("req-dup")
    first = body("req-dup", comment="first")
    assert post(receiver, token, first).status_code == 200
    again = post(receiver, token, first)
    assert again.status_code == 200 and "ignored" in again.json()["message"]
    other = post(receiver, token, body("req-dup", code="Reject", comment="second"))
    assert other.status_code == 409 and "first callback wins" in other.json()["message"]
    stored = json.loads(variable(callback_store.result_key("req-dup"))["val"])
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
    stored = json.loads(variable(callback_store.result_key("req-race"))["val"])
    assert winner.json()["status"] == "OK" and stored["body"]["results"]["outputs"][0]["comment"].startswith("c")


def test_expired_records_are_purged(receiver):
    token = register("req-old", expires_in=timedelta(seconds=-5))
    key = callback_store.registration_key(token_hash(token))
    assert variable(key) is not None
    callback_store._last_purge = 0.0
    assert callback_store.purge_expired() >= 1
    assert variable(key) is None
