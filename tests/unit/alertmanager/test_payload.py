"""The webhook payload (version 4) as the receiver reads it: the state-change key and the event extra."""

from __future__ import annotations

import json

import pytest

from airflow_wecube.alertmanager.errors import AlertPayloadError
from airflow_wecube.alertmanager.payload import MAX_ALERTS, parse_payload


def body(**alert) -> bytes:
    a = {
        "status": "firing",
        "labels": {"alertname": "AccountServiceDown"},
        "startsAt": "2026-12-01T20:00:00+01:00",
        "fingerprint": "ABCDEF",
        **alert,
    }
    return json.dumps({"version": "4", "status": "firing", "alerts": [a], "unknownField": 1}).encode()


def test_key_is_fingerprint_utc_start_and_status():
    alert = parse_payload(body()).alerts[0]
    assert alert.key == "abcdef/2026-12-01T19:00:00+00:00/firing"
    assert parse_payload(body(status="resolved")).alerts[0].key.endswith("/resolved")
    # the same instant written another way is the same change
    assert parse_payload(body(startsAt="2026-12-01T19:00:00Z")).alerts[0].key == alert.key


def test_extra_has_json_values_and_no_zero_end():
    extra = parse_payload(body(endsAt="0001-01-01T00:00:00Z")).alerts[0].event_extra()
    assert extra["endsAt"] is None and extra["startsAt"] == "2026-12-01T19:00:00Z"
    assert json.loads(json.dumps(extra)) == extra
    ended = parse_payload(body(endsAt="2026-12-01T19:05:00Z")).alerts[0]
    assert ended.event_extra()["endsAt"] == "2026-12-01T19:05:00Z"


def test_too_many_alerts_or_bytes():
    many = json.loads(body())
    many["alerts"] = many["alerts"] * (MAX_ALERTS + 1)
    with pytest.raises(AlertPayloadError, match="alerts: List should have at most 1000 items"):
        parse_payload(json.dumps(many).encode())
    with pytest.raises(AlertPayloadError, match="more than the 10 bytes allowed"):
        parse_payload(body(), max_bytes=10)


def test_problems_listed_together():
    with pytest.raises(AlertPayloadError) as e:
        parse_payload(body(labels={"x": "y"}, fingerprint="", status="odd"))
    assert len(e.value.problems) == 3, e.value.problems


def test_alertmanagers_zero_start_is_valid():
    alert = parse_payload(body(startsAt="0001-01-01T00:00:00Z")).alerts[0]
    assert alert.key == "abcdef/0001-01-01T00:00:00+00:00/firing"
    assert alert.event_extra()["startsAt"] is None  # Alertmanager's "no time": none in the extra


@pytest.mark.parametrize(
    "when",
    ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"],
    ids=["past-9999-in-utc", "before-year-1-in-utc"],
)
def test_a_time_utc_cannot_hold_is_a_problem_not_an_overflow(when):
    with pytest.raises(AlertPayloadError, match=r"alerts\[0\].startsAt: .* outside the times UTC can hold"):
        parse_payload(body(startsAt=when))
    with pytest.raises(AlertPayloadError, match=r"alerts\[0\].endsAt: .* outside the times UTC can hold"):
        parse_payload(body(endsAt=when))


def test_json_nested_too_deeply_is_a_problem_not_a_crash():
    deep = b'{"version": "4", "status": "firing", "alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(AlertPayloadError, match="nested too deeply"):
        parse_payload(deep)
