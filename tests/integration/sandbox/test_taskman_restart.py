"""A sandbox restart keeps the taskman inbox: open tasks stay open, and a callback still waiting to
be delivered is sent by the new server. Two sandbox apps in turn on one database file (the session
sandbox cannot be restarted under the other tests)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from airflow_wecube.sandbox import create_app

TOKEN = "restart-token"
CUSTOM = "/taskman/api/v1/plugin/task/create/custom"
API = "/taskman/inbox/api/tasks"


def _body(request_id: str, cb: str, url: str) -> dict:
    return {
        "requestId": request_id,
        "inputs": [
            {
                "callbackParameter": cb,
                "callbackUrl": url,
                "procInstId": "dag__run",
                "taskName": f"task {cb}",
                "roleName": "ops",
                "reporter": "pytest",
            }
        ],
    }


def _create(client: TestClient, request_id: str, cb: str, url: str) -> str:
    r = client.post(CUSTOM, json=_body(request_id, cb, url), headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.json()["resultCode"] == "0", r.text
    (task,) = client.get(API, params={"requestId": request_id}).json()
    return task["id"]


def test_restart_keeps_open_tasks_and_resumes_pending_callbacks(tmp_path, scripted_server, monkeypatch):
    monkeypatch.setenv("WECUBE_SANDBOX_CALLBACK_ATTEMPTS", "10")
    monkeypatch.setenv("WECUBE_SANDBOX_CALLBACK_BACKOFF", "0.5")
    db = tmp_path / "sandbox.db"
    scripted_server.reply("down", status=503)
    with TestClient(create_app(db, TOKEN)) as first:
        waiting = _create(first, "r-open", "a", scripted_server.url + "/a")
        answered = _create(first, "r-done", "b", scripted_server.url + "/b")
        cb = first.post(f"{API}/{answered}/complete", json={"comment": "before restart"}).json()["callback"]
        assert cb["status"] == "pending" and cb["attempts"] == 1
    # the first server is gone; only now does the receiver come back, so it cannot have been the sender
    scripted_server.reply({"status": "OK"})
    seen_before = len(scripted_server.requests)
    with TestClient(create_app(db, TOKEN)) as second:
        assert [t["id"] for t in second.get(API).json()] == [waiting]
        assert "task a" in second.get("/taskman/inbox").text
        deadline = time.monotonic() + 20
        while (task := second.get(f"{API}/{answered}").json())["callback"]["status"] != "delivered":
            if time.monotonic() > deadline:
                pytest.fail(f"the restarted sandbox did not deliver the pending callback: {task['callback']}")
            time.sleep(0.05)
        assert len(scripted_server.requests) > seen_before
        last = scripted_server.requests[-1]
        assert last["path"] == "/b" and last["body"]["results"]["outputs"][0]["comment"] == "before restart"
        done = second.post(f"{API}/{waiting}/complete", json={"comment": "after restart"}).json()
        assert done["callback"]["status"] == "delivered"
        assert scripted_server.requests[-1]["body"]["results"]["requestId"] == "r-open"
        # a retried create after the restart (an async retry: same request, a new callback URL) still
        # gets the first answer, not a second task
        r = second.post(
            CUSTOM,
            json=_body("r-open", "a", scripted_server.url + "/a-retry"),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert r.json()["resultCode"] == "0" and len(second.get(API, params={"status": "all"}).json()) == 2
