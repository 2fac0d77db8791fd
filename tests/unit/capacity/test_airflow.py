"""Airflow wiring of capacity models: who gets told about drift (no SMTP server needed here)."""

from __future__ import annotations

from airflow_wecube.capacity.airflow import notify_drift
from airflow_wecube.capacity.drift_text import drift_subject
from tests.fixtures.logs import warnings_of


def test_explicit_empty_list_tells_nobody_and_none_warns_without_owners(drifted):
    seen = []
    assert notify_drift([], {}, drifted, owners=["a@example.com"]) == 0
    assert notify_drift([lambda ctx: seen.append(ctx)], {}, drifted, owners=["a@example.com"]) == 1
    assert seen[0]["capacity_subject"] == drift_subject(drifted) and seen[0]["capacity_owners"] == ["a@example.com"]
    with warnings_of("airflow_wecube.capacity.airflow") as warned:
        assert notify_drift(None, {}, drifted, owners=["ledger team"]) == 0
    assert any("drift not e-mailed: capacity model ledger_cpu lists no e-mail address" in w for w in warned), warned
