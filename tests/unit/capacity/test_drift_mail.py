"""The drift e-mail's subject and body, and who gets told (no SMTP server needed here)."""

from __future__ import annotations

import contextlib
import logging

import pytest

from airflow_wecube.capacity import pipeline
from airflow_wecube.capacity.airflow import notify_drift
from airflow_wecube.capacity.drift_text import drift_html, drift_subject
from airflow_wecube.capacity.spec import load_spec
from airflow_wecube.capacity.store import ModelStore

from .synth import SPEC, make_frame


@contextlib.contextmanager
def warnings_of(logger_name: str):
    """The warnings ``logger_name`` emits inside the block (a handler on the logger itself, since
    Airflow's structlog setup decides where propagated records end up)."""
    records: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def drifted(tmp_path_factory):
    store = ModelStore(tmp_path_factory.mktemp("store"))
    spec = load_spec(SPEC)
    pipeline.run(spec, make_frame(), store)
    report = pipeline.run(spec, make_frame(1440, seed=7, closed_coef=0.35), store)
    assert report["drift"]["found"]
    return report


def test_subject_names_the_moved_coefficient_old_new_and_change(drifted):
    subject = drift_subject(drifted)
    assert subject.startswith("[capacity] ledger_cpu drifted: accounts_closed 0.267 → 0.3")
    row = next(r for r in drifted["drift"]["coefficients"] if r["name"] == "accounts_closed")
    assert subject.endswith(f"({row['relative_change'] * 100:+.0f}%)")


def test_subject_without_a_moved_coefficient_uses_the_first_finding(drifted):
    report = {**drifted, "drift": {**drifted["drift"], "coefficients": [],
                                   "messages": ["R² fell 0.990 → 0.700 (drop 0.290 > 0.1): a factor the model lacks"]}}
    assert drift_subject(report) == "[capacity] ledger_cpu drifted: R² fell 0.990 → 0.700 (drop 0.290 > 0.1): a factor the model lacks"


def test_body_has_the_table_the_summary_and_an_escaped_link(drifted):
    html = drift_html(drifted, "http://af.example/dags/d/runs/r?a=1&b=2")
    assert "<td>accounts_closed</td><td>0.267</td>" in html
    assert "p-value" in html and "interval no longer overlaps" in html
    assert f"wecube capacity accept ledger_cpu {drifted['version']}" in html
    assert 'href="http://af.example/dags/d/runs/r?a=1&amp;b=2"' in html
    assert "accounts_closed: 0.267 → 0.3" in html  # the drift summary, as the task's failure says it


def test_explicit_empty_list_tells_nobody_and_none_warns_without_owners(drifted):
    seen = []
    assert notify_drift([], {}, drifted, owners=["a@example.com"]) == 0
    assert notify_drift([lambda ctx: seen.append(ctx)], {}, drifted, owners=["a@example.com"]) == 1
    assert seen[0]["capacity_subject"] == drift_subject(drifted) and seen[0]["capacity_owners"] == ["a@example.com"]
    with warnings_of("airflow_wecube.capacity.airflow") as warned:
        assert notify_drift(None, {}, drifted, owners=["ledger team"]) == 0
    assert any("drift not e-mailed: capacity model ledger_cpu lists no e-mail address" in w for w in warned), warned
