"""``POST /wecube/alerts`` in-process on the session's real metadata DB (SQLite): the bearer secret,
the payload checks, one Asset event per alert state change, nothing recorded on any refusal.

The whole loop (Prometheus rule → Alertmanager → this route under ``airflow standalone`` → a DAG run)
is tests/e2e/test_alerts.py.
"""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from fastapi.testclient import TestClient

SECRET = "am-webhook-s3cret"


@pytest.fixture
def client(airflow_db, monkeypatch):
    from airflow_wecube.ui.app import create_app

    monkeypatch.setenv(
        "AIRFLOW_CONN_ALERTMANAGER_DEFAULT",
        json.dumps({"conn_type": "alertmanager", "host": "http://127.0.0.1:9093", "password": SECRET}),
    )
    return TestClient(create_app())


def auth(token: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alert(name: str, status: str = "firing", fingerprint: str = "0a1b2c3d4e5f6071", **labels) -> dict:
    return {
        "status": status,
        "labels": {"alertname": name, "instance": "127.0.0.1:20000", **labels},
        "annotations": {"summary": f"{name} on 127.0.0.1:20000"},
        "startsAt": "2026-12-01T20:00:00.123Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-12-01T20:05:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict, version: str = "4") -> dict:
    return {
        "version": version,
        "groupKey": "{}:{alertname}",
        "truncatedAlerts": 0,
        "status": alerts[0]["status"] if alerts else "firing",
        "receiver": "wecube",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": list(alerts),
    }


def events(name: str) -> list[dict]:
    """The extras of every event on ``wecube-alert://<name>``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_wecube.alertmanager.assets import alert_asset

    asset = alert_asset(name)
    with create_session() as session:
        stmt = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == asset.uri, AssetModel.name == asset.name)
            .order_by(AssetEvent.id)
        )
        return list(session.scalars(stmt))


def new_name() -> str:
    return f"WebhookTest_{uuid.uuid4().hex[:8]}"


def test_a_firing_alert_becomes_one_asset_event_with_the_alert_in_extra(client):
    name = new_name()
    r = client.post("/alerts", json=payload(alert(name)), headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(e["alertname"], e["status"]) for e in body["recorded"]] == [(name, "firing")]
    assert body["duplicates"] == [] and body["no_listener"] == [name]
    (extra,) = events(name)
    assert extra == {
        "alertname": name,
        "status": "firing",
        "labels": {"alertname": name, "instance": "127.0.0.1:20000"},
        "annotations": {"summary": f"{name} on 127.0.0.1:20000"},
        "fingerprint": "0a1b2c3d4e5f6071",
        "startsAt": "2026-12-01T20:00:00.123000Z",
        "endsAt": None,
        "generatorURL": "http://127.0.0.1:9090/graph",
        "key": "0a1b2c3d4e5f6071/2026-12-01T20:00:00.123000+00:00/firing",
    }


def test_the_same_state_change_delivered_again_is_recorded_once_and_resolving_is_a_new_one(client):
    name = new_name()
    for _ in range(3):  # Alertmanager re-sends a group every group_interval / repeat_interval
        assert client.post("/alerts", json=payload(alert(name)), headers=auth()).status_code == 200
    again = client.post("/alerts", json=payload(alert(name), alert(name)), headers=auth()).json()
    assert again["recorded"] == [] and len(again["duplicates"]) == 2
    assert [e["status"] for e in events(name)] == ["firing"]
    resolved = client.post("/alerts", json=payload(alert(name, "resolved")), headers=auth()).json()
    assert [e["status"] for e in resolved["recorded"]] == ["resolved"]
    # a new firing of the same series (new startsAt) is a new state change
    refire = alert(name)
    refire["startsAt"] = "2026-12-01T21:00:00Z"
    assert len(client.post("/alerts", json=payload(refire), headers=auth()).json()["recorded"]) == 1
    assert [e["status"] for e in events(name)] == ["firing", "resolved", "firing"]


def test_alerts_of_several_names_and_series_in_one_delivery(client):
    a, b = new_name(), new_name()
    body = client.post(
        "/alerts",
        json=payload(alert(a, fingerprint="aa01"), alert(a, fingerprint="aa02", instance="h2"), alert(b)),
        headers=auth(),
    ).json()
    assert sorted((e["alertname"], e["fingerprint"]) for e in body["recorded"]) == sorted(
        [(a, "aa01"), (a, "aa02"), (b, "0a1b2c3d4e5f6071")]
    )
    assert len(events(a)) == 2 and len(events(b)) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {SECRET}"}, {"Authorization": SECRET}],
    ids=["none", "wrong", "basic", "no-scheme"],
)
def test_without_the_secret_401_and_nothing_recorded(client, headers, caplog):
    name = new_name()
    with caplog.at_level(logging.INFO):
        r = client.post("/alerts", json=payload(alert(name)), headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "alertmanager_default" in r.json()["detail"]
    assert events(name) == []
    assert SECRET not in caplog.text and SECRET not in r.text


def test_no_connection_or_no_password_refuses_everything_with_503(client, monkeypatch):
    name = new_name()
    monkeypatch.delenv("AIRFLOW_CONN_ALERTMANAGER_DEFAULT")
    r = client.post("/alerts", json=payload(alert(name)), headers=auth())
    assert r.status_code == 503 and "connection 'alertmanager_default' is missing" in r.json()["detail"]
    monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER_DEFAULT", json.dumps({"conn_type": "alertmanager", "host": "x"}))
    assert client.post("/alerts", json=payload(alert(name)), headers=auth("")).status_code == 503
    assert events(name) == []


def _bad_alert(name: str, **changes) -> dict:
    a = alert(name)
    a.update(changes)
    return a


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda n: b"{not json", "the payload is not JSON"),
        (lambda n: b"[1, 2]", "must be a JSON object, got list"),
        (lambda n: payload(alert(n), version="3"), "version '3' is not supported"),
        (lambda n: {"version": "4", "status": "firing"}, "alerts: Field required"),
        (lambda n: payload(alert(n), _bad_alert(n, labels={"job": "x"})), "alerts[1].labels: has no 'alertname' label"),
        (lambda n: payload(alert(n), _bad_alert(n, status="pending")), "alerts[1].status: Input should be"),
        (lambda n: payload(alert(n), _bad_alert(n, startsAt="yesterday")), "alerts[1].startsAt:"),
        (lambda n: payload(alert(n), _bad_alert(n, startsAt="2026-12-01T20:00:00")), "must carry a time zone"),
        (lambda n: payload(alert(n), _bad_alert(n, fingerprint="../x")), "alerts[1].fingerprint:"),
        (lambda n: payload(alert(n), alert("a/b")), "alertname 'a/b' cannot name an asset"),
    ],
    ids=["json", "list", "version", "no-alerts", "no-alertname", "status", "time", "naive-time", "fingerprint", "name"],
)
def test_malformed_payload_400_with_the_reason_and_nothing_recorded(client, make, reason):
    name = new_name()
    body = make(name)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post("/alerts", content=content, headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert reason in r.json()["detail"], r.json()
    assert r.json()["detail"].startswith("not an Alertmanager webhook payload (version 4)")
    assert events(name) == []  # the good alert beside the bad one is not recorded either


def test_oversized_payload_400_and_nothing_recorded(client):
    name = new_name()
    big = alert(name)
    big["annotations"] = {f"a{i}": "x" * 60000 for i in range(20)}  # ~1.2 MB
    r = client.post("/alerts", json=payload(big), headers=auth())
    assert r.status_code == 400
    assert "more than the 1048576 bytes allowed" in r.json()["detail"]

    def chunks():  # no Content-Length: the body is cut off while it streams in
        yield json.dumps(payload(alert(name)))[:-1].encode()
        for _ in range(40):
            yield b" " * 32768

    r = client.post("/alerts", content=chunks(), headers=auth())
    assert r.status_code == 400 and "more than the 1048576 bytes allowed" in r.json()["detail"]
    assert events(name) == []


def test_the_pages_still_need_a_login(client):
    assert client.get("/api/plugins").status_code == 401
    assert client.get("/alerts").status_code == 405  # the webhook only takes POST


def test_the_same_delivery_at_once_on_several_threads_is_recorded_once(client):
    """Alertmanager retries while the first attempt is still being handled: the check and the insert run
    under a lock on the asset's row, so concurrent deliveries of one change make one event."""
    from concurrent.futures import ThreadPoolExecutor

    from airflow_wecube.ui.app import create_app

    name = new_name()
    body = payload(alert(name, fingerprint="cc01"), alert(name, fingerprint="cc02"))

    def deliver(_):
        with TestClient(create_app()) as c:
            return c.post("/alerts", json=body, headers=auth())

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(deliver, range(6)))
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers if r.status_code != 200]
    assert sum(len(r.json()["recorded"]) for r in answers) == 2
    assert sum(len(r.json()["duplicates"]) for r in answers) == 10
    assert sorted(e["fingerprint"] for e in events(name)) == ["cc01", "cc02"]
