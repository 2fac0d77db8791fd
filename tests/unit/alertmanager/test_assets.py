"""``alert_asset``: the Asset a runbook DAG schedules on, and reading alerts from triggering events."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
from airflow.sdk import Asset

from airflow_wecube.alertmanager.assets import alert_asset, alert_uri, alerts_from_context, alerts_from_events


def test_alert_asset_uri_is_accepted_by_airflow_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Airflow warns on URIs it rewrites (e.g. a password in them)
        asset = alert_asset("AccountServiceDown")
    assert asset == Asset("wecube-alert://AccountServiceDown")
    assert asset.name == "wecube-alert://AccountServiceDown"
    assert asset.uri == "wecube-alert://AccountServiceDown/"  # Airflow's normal form: case kept
    assert alert_asset("capacity:headroom_low").name == "wecube-alert://capacity:headroom_low"


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "9lives", "x" * 201, None, "é"])
def test_names_that_cannot_be_an_asset_are_refused(bad):
    with pytest.raises(ValueError, match="cannot name an asset"):
        alert_uri(bad)


def _event(status: str, uri: str = "wecube-alert://X/", **extra):
    return SimpleNamespace(
        asset=SimpleNamespace(uri=uri), extra={"fingerprint": "f", "status": status, "labels": {}, **extra}
    )


def test_alerts_from_events_and_context():
    events = [_event("firing", n=1), _event("resolved", n=2), _event("firing", uri="s3://other/", n=3)]
    assert [a["n"] for a in alerts_from_events(events)] == [1, 2]
    assert [a["n"] for a in alerts_from_events(events, status="firing")] == [1]
    context = {"triggering_asset_events": {alert_asset("X"): events[:2]}}
    assert [a["n"] for a in alerts_from_context(context, status="resolved")] == [2]
    assert alerts_from_context({}) == []  # a run started by hand
