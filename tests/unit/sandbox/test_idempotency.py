"""The sandbox's answers to a requestId are kept in its SQLite file: a restarted sandbox still knows them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from airflow_wecube.sandbox import idempotency
from airflow_wecube.sandbox.app import create_app

TOKEN = "t0ken"
BODY = {"requestId": "r-1", "inputs": [{"callbackParameter": "a", "type": "host", "name": "web-1"}]}


def post(client: TestClient, body=BODY):
    return client.post("/cmdb/v1/ci/create", json=body, headers={"Authorization": f"Bearer {TOKEN}"})


def test_answer_survives_a_restart(tmp_path):
    db = tmp_path / "sandbox.db"
    with TestClient(create_app(db, TOKEN)) as client:
        first = post(client)
        assert first.json()["resultCode"] == "0"
    with TestClient(create_app(db, TOKEN)) as client:  # a new server process on the same file
        again = post(client)
        assert again.content == first.content
        calls = client.get("/sandbox/calls", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert [c["replayed"] for c in calls] == [False, True]


def test_a_call_left_running_by_a_stopped_sandbox_runs_again(tmp_path, monkeypatch):
    """A record in state running from another server process is stale (that process died mid-call)."""
    db = tmp_path / "sandbox.db"
    with TestClient(create_app(db, TOKEN)) as client:
        store = client.app.state.store
        assert idempotency.claim(store, "cmdb/ci/create", "r-1", BODY["inputs"]) is None  # running, never finished
        monkeypatch.setattr(idempotency, "OWNER", "a-new-process")
        assert post(client).json()["resultCode"] == "0"
        (record,) = idempotency.records(store, "r-1")
    assert (record["state"], record["replays"]) == ("done", 0)
