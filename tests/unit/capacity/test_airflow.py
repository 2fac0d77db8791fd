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


def test_a_probe_verdict_reaches_the_owners_with_its_report():
    """The owners get the headline as subject and the Markdown report (escaped) as body; a broken
    notifier does not stop the others."""
    from airflow_wecube.capacity.airflow import notify_probe

    result = {
        "model": "svc_canary",
        "app_version": "1.1.0+slowclose",
        "verdict": "regression",
        "reasons": ["coefficient accounts_closed rose 0.2 → 0.4 (+100%)"],
        "report_markdown": "## Capacity probe <b>\n",
    }
    seen = []

    def broken(ctx):
        raise RuntimeError("smtp down")

    told = notify_probe([broken, seen.append], {}, result, owners=["dev@example.com"], smtp_conn_id=None)
    assert told == 1
    ctx = seen[0]
    assert ctx["capacity_subject"] == (
        "[capacity probe] svc_canary 1.1.0+slowclose: regression: coefficient accounts_closed rose 0.2 → 0.4 (+100%)"
    )
    assert ctx["capacity_html"] == "<pre>## Capacity probe &lt;b&gt;\n</pre>" and ctx["capacity_owners"] == [
        "dev@example.com"
    ]
