"""The settle time that works around Airflow 3.3.2's stale executor-event race."""

from __future__ import annotations

import pytest

from airflow_wecube.compat.settle import DEFAULT_SETTLE_SECONDS, settle_seconds


def test_default_and_override(monkeypatch):
    monkeypatch.delenv("AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS", raising=False)
    assert settle_seconds() == DEFAULT_SETTLE_SECONDS
    monkeypatch.setenv("AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS", "2.5")
    assert settle_seconds() == 2.5


@pytest.mark.parametrize(("raw", "match"), [("soon", "must be a number of seconds, got 'soon'"), ("-1", ">= 0")])
def test_bad_value_is_a_clear_error(monkeypatch, raw, match):
    monkeypatch.setenv("AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS", raw)
    with pytest.raises(ValueError, match=match):
        settle_seconds()
