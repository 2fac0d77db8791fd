"""AlertmanagerHook against the session's real Alertmanager: alerts with matchers, silences, health,
and its HTTP rules (deadline, size cap) against a scripted server that misbehaves."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from airflow_wecube.alertmanager.errors import AlertmanagerConfigError, AlertmanagerError, AlertmanagerUnreachableError
from airflow_wecube.hooks.alertmanager import AlertmanagerHook
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def hook(alertmanager_conn):
    return AlertmanagerHook(alertmanager_conn)


def _alertname() -> str:
    return f"HookTest_{uuid.uuid4().hex[:8]}"


def test_health_and_test_connection(hook, alertmanager):
    assert hook.health() is True
    ok, message = hook.test_connection()
    assert ok, message
    assert "Connected to Alertmanager 0." in message and alertmanager.url in message


def test_health_false_and_clear_error_when_nobody_answers(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_AM_DOWN",
        json.dumps({"conn_type": "alertmanager", "host": f"http://127.0.0.1:{port}", "password": "s3cret-pw"}),
    )
    hook = AlertmanagerHook("am_down")
    assert hook.health() is False
    with pytest.raises(
        AlertmanagerUnreachableError, match=f"list alerts: Alertmanager at http://127.0.0.1:{port}"
    ) as e:
        hook.list_alerts({"alertname": "X"})
    assert "s3cret-pw" not in str(e.value)


def test_list_alerts_with_matchers(hook):
    name = _alertname()
    hook.post_alerts(
        [
            {"labels": {"alertname": name, "instance": "10.0.0.1:20000", "job": "account"}},
            {"labels": {"alertname": name, "instance": "10.0.0.2:20000", "job": "account"}},
            {"labels": {"alertname": name, "instance": "10.0.1.9:20000", "job": "other"}},
        ]
    )
    every = wait_for(lambda: len(hook.list_alerts({"alertname": name})) == 3 and hook.list_alerts({"alertname": name}))
    assert every and {a["labels"]["instance"] for a in every} == {"10.0.0.1:20000", "10.0.0.2:20000", "10.0.1.9:20000"}
    account = hook.list_alerts({"alertname": name, "job": "account"})
    assert {a["labels"]["instance"] for a in account} == {"10.0.0.1:20000", "10.0.0.2:20000"}
    regex = hook.list_alerts([f'alertname="{name}"', 'instance=~"10\\\\.0\\\\.0\\\\..*"', 'job!="other"'])
    assert {a["labels"]["instance"] for a in regex} == {"10.0.0.1:20000", "10.0.0.2:20000"}
    assert all(a["fingerprint"] and a["status"]["state"] == "active" for a in every)
    assert hook.list_alerts({"alertname": name + "_none"}) == []


def test_silence_create_applies_and_expire_ends_it(hook):
    name = _alertname()
    hook.post_alerts(
        [{"labels": {"alertname": name, "instance": "h1"}}, {"labels": {"alertname": name, "instance": "h2"}}]
    )
    assert wait_for(lambda: len(hook.list_alerts({"alertname": name})) == 2)
    silence_id = hook.create_silence(
        {"alertname": name, "instance": "h1"}, duration=timedelta(minutes=10), comment="test run", created_by="pytest"
    )
    silence = hook.get_silence(silence_id)
    assert silence["status"]["state"] == "active"
    assert silence["createdBy"] == "pytest" and silence["comment"] == "test run"
    assert {(m["name"], m["value"], m["isEqual"]) for m in silence["matchers"]} == {
        ("alertname", name, True),
        ("instance", "h1", True),
    }
    silenced = wait_for(
        lambda: [a for a in hook.list_alerts({"alertname": name}) if a["status"]["silencedBy"] == [silence_id]]
    )
    assert [a["labels"]["instance"] for a in silenced] == ["h1"]
    assert [a["labels"]["instance"] for a in hook.list_alerts({"alertname": name}, silenced=False)] == ["h2"]
    assert any(s["id"] == silence_id for s in hook.list_silences({"alertname": name}))

    assert hook.expire_silence(silence_id) is True
    assert hook.get_silence(silence_id)["status"]["state"] == "expired"
    assert hook.expire_silence(silence_id) is False  # a retried cleanup is safe
    assert wait_for(lambda: len(hook.list_alerts({"alertname": name}, silenced=False)) == 2)


def test_silence_with_explicit_window_and_regex(hook):
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    silence_id = hook.create_silence(['alertname=~"Later.*"'], starts_at=start, ends_at=start + timedelta(hours=1))
    silence = hook.get_silence(silence_id)
    assert silence["status"]["state"] == "pending"
    assert silence["matchers"][0]["isRegex"] is True
    hook.expire_silence(silence_id)


def test_bad_input_is_refused_before_sending(hook):
    with pytest.raises(AlertmanagerConfigError, match="needs at least one matcher"):
        hook.create_silence({})
    with pytest.raises(AlertmanagerConfigError, match=r"bad matchers: matcher 'alertname' is not"):
        hook.list_alerts(["alertname"])
    with pytest.raises(AlertmanagerConfigError, match="is not a regular expression"):
        hook.list_alerts(['instance=~"("'])
    with pytest.raises(AlertmanagerConfigError, match="duration must be above 0"):
        hook.create_silence({"alertname": "X"}, duration=0)
    with pytest.raises(AlertmanagerConfigError, match="has no time zone"):
        hook.create_silence({"alertname": "X"}, starts_at=datetime(2030, 1, 1))
    with pytest.raises(AlertmanagerConfigError, match=r"alerts\[0\] needs labels with an 'alertname'"):
        hook.post_alerts([{"labels": {"job": "x"}}])


def test_unknown_silence_is_an_error_with_alertmanagers_answer(hook):
    with pytest.raises(AlertmanagerError, match=r"get silence 00000000-0000-0000-0000-000000000000: .*HTTP 404"):
        hook.get_silence("00000000-0000-0000-0000-000000000000")


def test_deadline_and_size_cap_hold_against_a_misbehaving_server(scripted_server, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AM_SCRIPTED",
        json.dumps({"conn_type": "alertmanager", "host": scripted_server.url, "extra": {"timeout": 1, "deadline": 1}}),
    )
    scripted_server.reply(b"[]" + b" " * 100, trickle=0.1)
    with pytest.raises(AlertmanagerUnreachableError, match="deadline"):
        AlertmanagerHook("am_scripted").list_alerts()
    monkeypatch.setenv(
        "AIRFLOW_CONN_AM_SCRIPTED",
        json.dumps({"conn_type": "alertmanager", "host": scripted_server.url, "extra": {"max_response_bytes": 10}}),
    )
    scripted_server.reply(b"[" + b" " * 100 + b"]")
    with pytest.raises(AlertmanagerError, match="more than the 10 bytes allowed"):
        AlertmanagerHook("am_scripted").list_alerts()
