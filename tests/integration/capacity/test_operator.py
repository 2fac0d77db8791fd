"""CapacityGateOperator and rule publishing against the backfilled Prometheus."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from airflow.sdk import BaseNotifier
from airflow.sdk.exceptions import AirflowFailException

from airflow_wecube.capacity.airflow import publish_rules
from airflow_wecube.capacity.rules import recording_rule_name, rule_group_name
from airflow_wecube.capacity.spec import load_spec
from airflow_wecube.capacity.store import ModelStore
from airflow_wecube.operators.capacity import CapacityGateOperator

from .conftest import DRIFT_CLOSED

pytestmark = pytest.mark.integration


class RecordingNotifier(BaseNotifier):
    """Keeps what it was told (a real notifier would send mail or chat)."""

    def __init__(self):
        super().__init__()
        self.told: list[dict] = []

    def notify(self, context):
        self.told.append(context["capacity_drift"])


def _gate(history, baseline, start, end, **kw):
    return CapacityGateOperator(
        task_id="capacity_gate", spec=str(baseline.spec), start=start, end=end, store=str(baseline.store), **kw
    )


def test_gate_passes_a_release_window_like_the_baseline(capacity_history, accepted_baseline, capacity_conn):
    before = ModelStore(accepted_baseline.store).baseline_version("ledger_cpu")
    op = _gate(capacity_history, accepted_baseline, capacity_history.a_end - 86400, capacity_history.a_end)
    report = op.execute({})
    assert report["gates"]["passed"] and not report["drift"]["found"]
    assert report["drift"]["baseline_version"] == before
    assert not report["accepted"]  # a canary never redefines the baseline by default
    assert ModelStore(accepted_baseline.store).baseline_version("ledger_cpu") == before


def test_gate_fails_on_drift_and_tells_the_owners(capacity_history, accepted_baseline, capacity_conn):
    notifier = RecordingNotifier()
    before = ModelStore(accepted_baseline.store).baseline_version("ledger_cpu")
    op = _gate(
        capacity_history,
        accepted_baseline,
        capacity_history.b_start,
        capacity_history.b_end,
        on_drift_notifiers=[notifier],
        accept=True,
    )
    with pytest.raises(AirflowFailException, match=r"accounts_closed: 0\.267 → 0\.35"):
        op.execute({})
    assert len(notifier.told) == 1 and notifier.told[0]["found"]
    assert ModelStore(accepted_baseline.store).baseline_version("ledger_cpu") == before


def test_gate_fails_on_too_few_samples_and_without_baseline(
    capacity_history, accepted_baseline, capacity_conn, tmp_path
):
    op = _gate(capacity_history, accepted_baseline, capacity_history.a_end - 600, capacity_history.a_end)
    with pytest.raises(AirflowFailException, match="failed its gates.*fewer than the 500"):
        op.execute({})
    empty = CapacityGateOperator(task_id="g", spec=str(accepted_baseline.spec), store=str(tmp_path / "empty"))
    with pytest.raises(AirflowFailException, match="no accepted baseline"):
        empty.execute({})


def test_recording_rule_computes_the_prediction_live(capacity_history, accepted_baseline, capacity_conn):
    spec = load_spec(accepted_baseline.spec)
    record = ModelStore(accepted_baseline.store).baseline("ledger_cpu")
    group = publish_rules(spec, record, prometheus_conn_id=capacity_conn)
    assert group["name"] == rule_group_name("ledger_cpu")
    assert [r["name"] for r in group["rules"]] == [
        recording_rule_name("ledger_cpu"),
        "CapacityEfficiencyRegression",
        "CapacityHeadroomLow",
    ]
    server = capacity_history.server
    fit = record["fit"]
    deadline = time.monotonic() + 30
    while True:
        got = server.api(f"query?query={recording_rule_name('ledger_cpu')}")["data"]["result"]
        if got or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(got) == 1, got
    at, value = got[0]["value"]
    assert got[0]["metric"]["model"] == "ledger_cpu"
    inputs = {
        name: float(server.api(f"query?query={name}&time={at}")["data"]["result"][0]["value"][1])
        for name in ("accounts_opened", "accounts_closed")
    }
    expected = fit["intercept"]["value"] + sum(fit["coefficients"][n]["value"] * inputs[n] for n in inputs)
    assert float(value) == pytest.approx(expected, rel=1e-6)
    # window B's data is what is live now: closing costs 0.35, so the actual runs above the prediction
    # by about (0.35 - baseline coefficient) * closed, which is what the alert watches
    q = quote(f"sum(cpu_percent) - sum({recording_rule_name('ledger_cpu')})")
    excess = float(server.api(f"query?query={q}&time={at}")["data"]["result"][0]["value"][1])
    expected_excess = (DRIFT_CLOSED - fit["coefficients"]["accounts_closed"]["value"]) * inputs["accounts_closed"]
    assert excess == pytest.approx(expected_excess, abs=5 * fit["resid_std"])


def _owned_spec(history, owner: str) -> str:
    return str(history.spec_file(**{"limit: 80": f"limit: 80\nowners: [{owner}, ledger team]"}))


def test_gate_drift_mails_the_owners_by_default(capacity_history, accepted_baseline, capacity_conn, smtp_conn):
    owner = "gate-owner@example.com"
    op = CapacityGateOperator(
        task_id="capacity_gate",
        spec=_owned_spec(capacity_history, owner),
        start=capacity_history.b_start,
        end=capacity_history.b_end,
        store=str(accepted_baseline.store),
    )
    with pytest.raises(AirflowFailException, match=r"accounts_closed: 0\.267 → 0\.35"):
        op.execute({})
    mails = smtp_conn.to(owner)
    assert len(mails) == 1 and mails[0].rcpt_tos == [owner] and mails[0].mail_from == "airflow@example.com"
    # the drifted fit is about 0.35 (DRIFT_CLOSED) with noise in its last digit
    assert re.match(
        r"\[capacity\] ledger_cpu drifted: accounts_closed 0\.267 → 0\.3[45]\d* \(\+3\d%\)", mails[0].subject
    )
    assert re.search(r"<td>accounts_closed</td><td>0\.267</td><td>0\.3[45]\d*</td>", mails[0].html)


def test_gate_drift_without_smtp_connection_warns_and_still_fails(
    capacity_history, accepted_baseline, capacity_conn, smtp_server, monkeypatch
):
    from tests.fixtures.logs import warnings_of

    owner = "nomail-owner@example.com"
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    op = CapacityGateOperator(
        task_id="capacity_gate",
        spec=_owned_spec(capacity_history, owner),
        start=capacity_history.b_start,
        end=capacity_history.b_end,
        store=str(accepted_baseline.store),
    )
    with (
        warnings_of("airflow_wecube.capacity.airflow") as warned,
        pytest.raises(AirflowFailException, match=r"accounts_closed: 0\.267 → 0\.35"),
    ):
        op.execute({})
    assert any("drift not e-mailed: no connection smtp_default; set [wecube] smtp_conn_id" in w for w in warned), warned
    assert smtp_server.to(owner) == []
