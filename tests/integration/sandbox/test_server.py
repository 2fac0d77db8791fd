"""The sandbox plugin server, over real HTTP on loopback (session fixture ``sandbox``)."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from airflow_wecube.sandbox.store import redact_authorization
from tests.integration.sandbox.helpers import uniq

pytestmark = pytest.mark.integration


def wire(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


# -- health and auth ----------------------------------------------------------------------------


def test_health_needs_no_token(sandbox):
    r = requests.get(f"{sandbox.url}/health", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "unauthorized: missing Authorization header"),
        ({"Authorization": "Bearer not-the-token"}, "unauthorized: invalid token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unauthorized: expected 'Authorization: Bearer <token>'"),
    ],
)
def test_bad_token_is_answered_as_resultcode_1_and_changes_nothing(sandbox, headers, reason):
    name = uniq("unauth")
    body = {"requestId": uniq("r"), "inputs": [{"callbackParameter": "a", "type": "host", "name": name}]}
    r = requests.post(f"{sandbox.url}/cmdb/v1/ci/create", json=body, headers=headers, timeout=10)
    assert r.status_code == 200
    assert r.json()["resultCode"] == "1"
    assert r.json()["resultMessage"] == reason
    assert r.json()["results"]["outputs"] == []
    found = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "host", "name": name}]))
    assert found["results"]["outputs"][0]["items"] == []


def test_introspection_needs_the_token(sandbox):
    for method in ("get", "delete"):
        # the same check, and reasons, as the plugin endpoints (answered as HTTP 401 here)
        r = requests.request(method, f"{sandbox.url}/sandbox/calls", headers={"Authorization": "Bearer x"}, timeout=5)
        assert (r.status_code, r.json()["detail"]) == (401, "unauthorized: invalid token")
        r = requests.request(method, f"{sandbox.url}/sandbox/calls", timeout=5)
        assert (r.status_code, r.json()["detail"]) == (401, "unauthorized: missing Authorization header")


def test_a_body_that_is_not_a_plugin_request_is_refused(sandbox):
    url = f"{sandbox.url}/faults/v1/fault/echo"
    r = requests.post(url, data=b"{not json", headers=sandbox.headers, timeout=5)
    assert wire(r) == {"resultCode": "1", "resultMessage": "bad request: body is not JSON", "results": {"outputs": []}}
    r = requests.post(url, json={"inputs": []}, headers=sandbox.headers, timeout=5)
    assert wire(r)["resultCode"] == "1"
    assert "requestId" in r.json()["resultMessage"]


# -- cmdb ---------------------------------------------------------------------------------------


def test_cmdb_create_is_idempotent(sandbox):
    name = uniq("app")
    first = wire(
        sandbox.post(
            "/cmdb/v1/ci/create",
            [
                {"callbackParameter": "a", "type": "app", "name": name, "attributes": {"owner": "ops"}},
                {"callbackParameter": "b", "type": "app", "name": name},
            ],
        )
    )
    assert first["resultCode"] == "0"
    a, b = first["results"]["outputs"]
    assert (a["callbackParameter"], a["errorCode"], a["created"]) == ("a", "0", "Y")
    assert (b["callbackParameter"], b["errorCode"], b["created"]) == ("b", "0", "N")
    assert a["guid"] == b["guid"]
    assert a["type"] == "app" and a["name"] == name and a["attributes"] == {"owner": "ops"}

    again = wire(sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": "x", "type": "app", "name": name}]))
    assert again["results"]["outputs"][0]["guid"] == a["guid"]
    assert again["results"]["outputs"][0]["created"] == "N"
    other_type = wire(sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": "x", "type": "host", "name": name}]))
    assert other_type["results"]["outputs"][0]["guid"] != a["guid"]

    items = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "app", "name": name}]))
    assert items["results"]["outputs"][0]["count"] == 1


def test_cmdb_concurrent_creates_make_one_ci(sandbox):
    name = uniq("race")

    def create(i: int) -> str:
        out = wire(sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": str(i), "type": "app", "name": name}]))
        return out["results"]["outputs"][0]["guid"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        guids = set(pool.map(create, range(16)))
    assert len(guids) == 1
    found = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "app", "name": name}]))
    assert found["results"]["outputs"][0]["count"] == 1


def test_cmdb_query_and_update(sandbox):
    ci_type = uniq("type")
    created = wire(
        sandbox.post(
            "/cmdb/v1/ci/create",
            [
                {"callbackParameter": "1", "type": ci_type, "name": "b", "attributes": {"cpu": 2, "zone": "z1"}},
                {"callbackParameter": "2", "type": ci_type, "name": "a"},
            ],
        )
    )["results"]["outputs"]
    guid_b = created[0]["guid"]

    listed = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": ci_type}]))
    out = listed["results"]["outputs"][0]
    assert [i["name"] for i in out["items"]] == ["a", "b"]
    assert out["count"] == 2
    by_guid = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": ci_type, "guid": guid_b}]))
    assert [i["guid"] for i in by_guid["results"]["outputs"][0]["items"]] == [guid_b]

    updated = wire(
        sandbox.post(
            "/cmdb/v1/ci/update",
            [{"callbackParameter": "u", "guid": guid_b, "attributes": {"cpu": 4, "zone": None, "os": "linux"}}],
        )
    )
    assert updated["resultCode"] == "0"
    assert updated["results"]["outputs"][0]["attributes"] == {"cpu": 4, "os": "linux"}
    assert updated["results"]["outputs"][0]["name"] == "b"
    again = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": ci_type, "name": "b"}]))
    assert again["results"]["outputs"][0]["items"][0]["attributes"] == {"cpu": 4, "os": "linux"}


def test_cmdb_update_with_expected_is_a_compare_and_set(sandbox):
    """Two callers racing for a lock: the one whose ``expected`` no longer holds fails and changes nothing."""
    guid = wire(sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": "c", "type": "lock", "name": uniq("l")}]))[
        "results"
    ]["outputs"][0]["guid"]

    def take(holder, expected):
        return wire(
            sandbox.post(
                "/cmdb/v1/ci/update",
                [{"callbackParameter": holder, "guid": guid, "attributes": {"holder": holder}, "expected": expected}],
            )
        )

    first = take("run-a", {"holder": None})
    assert first["resultCode"] == "0" and first["results"]["outputs"][0]["attributes"] == {"holder": "run-a"}
    second = take("run-b", {"holder": None})
    assert second["resultCode"] == "1"
    assert second["results"]["outputs"][0]["errorMessage"] == (
        "conflict: holder is 'run-a', expected None; read the CI again and retry"
    )
    again = wire(sandbox.post("/cmdb/v1/ci/query", [{"callbackParameter": "q", "type": "lock", "guid": guid}]))
    assert again["results"]["outputs"][0]["items"][0]["attributes"] == {"holder": "run-a"}
    # the holder gives it back only while it holds it
    released = wire(
        sandbox.post(
            "/cmdb/v1/ci/update",
            [{"callbackParameter": "r", "guid": guid, "attributes": {"holder": None}, "expected": {"holder": "run-a"}}],
        )
    )
    assert released["resultCode"] == "0" and released["results"]["outputs"][0]["attributes"] == {}


def test_cmdb_partial_failure_keeps_the_successful_outputs(sandbox):
    name = uniq("ok")
    guid = wire(sandbox.post("/cmdb/v1/ci/create", [{"callbackParameter": "c", "type": "app", "name": name}]))[
        "results"
    ]["outputs"][0]["guid"]
    r = wire(
        sandbox.post(
            "/cmdb/v1/ci/update",
            [
                {"callbackParameter": "good", "guid": guid, "attributes": {"v": 1}},
                {"callbackParameter": "ghost", "guid": "ci-does-not-exist", "attributes": {"v": 1}},
                {"callbackParameter": "bad-attrs", "guid": guid, "attributes": [1, 2]},
                {"callbackParameter": "no-attrs", "guid": guid},
            ],
        )
    )
    assert r["resultCode"] == "1"
    assert r["resultMessage"].startswith("3 of 4 entities failed: ghost: unknown guid: ci-does-not-exist")
    outputs = {o["callbackParameter"]: o for o in r["results"]["outputs"]}
    assert [o["callbackParameter"] for o in r["results"]["outputs"]] == ["good", "ghost", "bad-attrs", "no-attrs"]
    assert outputs["good"]["errorCode"] == "0" and outputs["good"]["attributes"] == {"v": 1}
    assert outputs["ghost"] == {
        "callbackParameter": "ghost",
        "errorCode": "1",
        "errorMessage": "unknown guid: ci-does-not-exist",
    }
    assert outputs["bad-attrs"]["errorMessage"] == "input attributes must be an object, got list"
    assert outputs["no-attrs"]["errorMessage"] == "missing required input(s): attributes"


def test_credential_keeps_only_a_hash(sandbox):
    password = f"pw-{secrets.token_hex(8)}"
    name = uniq("db-root")
    r = wire(sandbox.post("/cmdb/v1/credential/set", [{"callbackParameter": "c", "name": name, "password": password}]))
    out = r["results"]["outputs"][0]
    assert r["resultCode"] == "0"
    assert out["fingerprint"] == "sha256:" + hashlib.sha256(password.encode()).hexdigest()[:16]
    assert out["guid"].startswith("cred-")
    assert password not in json.dumps(out)
    with sqlite3.connect(sandbox.db_path) as db:
        rows = db.execute("SELECT * FROM cmdb_credential WHERE name = ?", (name,)).fetchall()
    assert len(rows) == 1
    assert password not in json.dumps(rows)
    again = wire(sandbox.post("/cmdb/v1/credential/set", [{"callbackParameter": "c", "name": name, "password": "x"}]))
    assert again["results"]["outputs"][0]["guid"] == out["guid"]
    assert again["results"]["outputs"][0]["fingerprint"] != out["fingerprint"]


# -- faults -------------------------------------------------------------------------------------


def test_echo_returns_inputs_but_not_the_sensitive_token(sandbox):
    rid = uniq("echo")
    secret = f"tok-{secrets.token_hex(8)}"
    inputs = [
        {"callbackParameter": "1", "message": "hi", "count": 3, "data": {"k": [1]}, "items": ["x"], "token": secret},
        {"callbackParameter": "2", "message": "there"},
    ]
    r = wire(sandbox.post("/faults/v1/fault/echo", inputs, request_id=rid))
    assert r["resultCode"] == "0"
    first, second = r["results"]["outputs"]
    assert first == {
        "callbackParameter": "1",
        "errorCode": "0",
        "errorMessage": "",
        "message": "hi",
        "count": 3,
        "data": {"k": [1]},
        "items": ["x"],
    }
    assert second["message"] == "there"
    assert secret not in json.dumps(r)
    (call,) = sandbox.calls(rid)
    assert call["inputs"][0]["token"] == secret  # it was sent, and only the server saw it


def test_delay_sleeps_once_for_the_longest(sandbox):
    started = time.monotonic()
    r = wire(
        sandbox.post(
            "/faults/v1/fault/delay",
            [{"callbackParameter": "a", "seconds": "0.3"}, {"callbackParameter": "b", "seconds": 0.1}],
        )
    )
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2
    assert [o["slept"] for o in r["results"]["outputs"]] == ["0.3", "0.3"]
    bad = wire(sandbox.post("/faults/v1/fault/delay", [{"callbackParameter": "a", "seconds": "forever"}]))
    assert bad["resultCode"] == "1"
    assert "input seconds must be a number, got 'forever'" in bad["resultMessage"]
    too_long = wire(sandbox.post("/faults/v1/fault/delay", [{"callbackParameter": "a", "seconds": 3600}]))
    assert too_long["resultCode"] == "1"


def test_flaky_fails_n_times_per_request_id(sandbox):
    rid = uniq("flaky")
    inputs = [{"callbackParameter": "a", "fail_times": 2}]
    statuses = [sandbox.post("/faults/v1/fault/flaky", inputs, request_id=rid).status_code for _ in range(2)]
    assert statuses == [500, 500]
    third = wire(sandbox.post("/faults/v1/fault/flaky", inputs, request_id=rid))
    assert third["resultCode"] == "0"
    assert third["results"]["outputs"][0] == {
        "callbackParameter": "a",
        "errorCode": "0",
        "errorMessage": "",
        "attempt": 3,
    }
    # a new requestId starts its own count
    assert sandbox.post("/faults/v1/fault/flaky", inputs, request_id=uniq("flaky")).status_code == 500
    calls = sandbox.calls(rid)
    assert [c["statusCode"] for c in calls] == [500, 500, 200]
    assert {c["requestId"] for c in calls} == {rid}
    assert all(c["path"] == "/faults/v1/fault/flaky" for c in calls)


def test_flaky_with_zero_failures_succeeds_at_once(sandbox):
    r = wire(sandbox.post("/faults/v1/fault/flaky", [{"callbackParameter": "a", "fail_times": "0"}]))
    assert r["results"]["outputs"][0]["attempt"] == 1


def test_invalid_json(sandbox):
    r = sandbox.post("/faults/v1/fault/invalid-json", [{"callbackParameter": "a"}])
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)


def test_not_protocol(sandbox):
    r = sandbox.post("/faults/v1/fault/not-protocol", [{"callbackParameter": "a"}])
    assert r.status_code == 200
    assert r.json() == {"hello": "world"}


def test_result_code_1(sandbox):
    r = wire(sandbox.post("/faults/v1/fault/result-code-1", [{"callbackParameter": "a", "message": "disk full"}]))
    assert r == {"resultCode": "1", "resultMessage": "disk full", "results": {"outputs": []}}


def test_entity_errors(sandbox):
    r = wire(
        sandbox.post(
            "/faults/v1/fault/entity-errors",
            [
                {"callbackParameter": "e1", "fail": "Y"},
                {"callbackParameter": "e2", "fail": "N", "value": "kept"},
                {"callbackParameter": "e3", "fail": True},
                {"callbackParameter": "e4", "value": "also"},
            ],
        )
    )
    assert r["resultCode"] == "1"
    assert r["resultMessage"] == ("2 of 4 entities failed: e1: failed on purpose: e1; e3: failed on purpose: e3")
    assert [(o["callbackParameter"], o["errorCode"]) for o in r["results"]["outputs"]] == [
        ("e1", "1"),
        ("e2", "0"),
        ("e3", "1"),
        ("e4", "0"),
    ]
    assert r["results"]["outputs"][0]["errorMessage"] == "failed on purpose: e1"
    assert r["results"]["outputs"][1]["value"] == "kept"
    none_fail = wire(sandbox.post("/faults/v1/fault/entity-errors", [{"callbackParameter": "x", "fail": "N"}]))
    assert none_fail["resultCode"] == "0"


# -- introspection ------------------------------------------------------------------------------


def test_calls_record_every_header_lowercased(sandbox):
    rid = uniq("hdr")
    sandbox.post(
        "/faults/v1/fault/echo",
        [{"callbackParameter": "a", "message": "m"}],
        request_id=rid,
        headers={"X-Trace-Id": "trace-1"},
    )
    (call,) = sandbox.calls(rid)
    assert call["requestId"] == rid
    assert call["path"] == "/faults/v1/fault/echo"
    assert call["method"] == "POST"
    assert call["inputs"] == [{"callbackParameter": "a", "message": "m"}]
    assert call["headers"]["x-trace-id"] == "trace-1"
    assert call["headers"]["authorization"] == redact_authorization(f"Bearer {sandbox.token}")
    assert sandbox.token not in json.dumps(call)  # the sandbox keeps no token
    assert call["headers"]["content-type"] == "application/json"
    assert all(k == k.lower() for k in call["headers"])
    assert call["statusCode"] == 200 and call["resultCode"] == "0"


def test_calls_can_be_cleared(sandbox):
    rid = uniq("clear")
    sandbox.post("/faults/v1/fault/echo", [{"callbackParameter": "a"}], request_id=rid)
    assert len(sandbox.calls(rid)) == 1
    sandbox.clear_calls()
    assert sandbox.calls(rid) == []
    assert sandbox.calls() == []


def test_wecube_conn_points_airflow_at_the_sandbox(wecube_conn, sandbox):
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(wecube_conn)
    assert conn.conn_type == "wecube"
    assert conn.password == sandbox.token
    assert conn.host == sandbox.url
