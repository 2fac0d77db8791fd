"""The drift e-mail's subject and body (pure text, no Airflow)."""

from __future__ import annotations

from airflow_wecube.capacity.drift_text import drift_html, drift_subject


def test_subject_names_the_moved_coefficient_old_new_and_change(drifted):
    subject = drift_subject(drifted)
    assert subject.startswith("[capacity] ledger_cpu drifted: accounts_closed 0.267 → 0.3")
    row = next(r for r in drifted["drift"]["coefficients"] if r["name"] == "accounts_closed")
    assert subject.endswith(f"({row['relative_change'] * 100:+.0f}%)")


def test_subject_without_a_moved_coefficient_uses_the_first_finding(drifted):
    report = {
        **drifted,
        "drift": {
            **drifted["drift"],
            "coefficients": [],
            "messages": ["R² fell 0.990 → 0.700 (drop 0.290 > 0.1): a factor the model lacks"],
        },
    }
    assert (
        drift_subject(report)
        == "[capacity] ledger_cpu drifted: R² fell 0.990 → 0.700 (drop 0.290 > 0.1): a factor the model lacks"
    )


def test_body_has_the_table_the_summary_and_an_escaped_link(drifted):
    html = drift_html(drifted, "http://af.example/dags/d/runs/r?a=1&b=2")
    assert "<td>accounts_closed</td><td>0.267</td>" in html
    assert "p-value" in html and "interval no longer overlaps" in html
    assert f"wecube capacity accept ledger_cpu {drifted['version']}" in html
    assert 'href="http://af.example/dags/d/runs/r?a=1&amp;b=2"' in html
    assert "accounts_closed: 0.267 → 0.3" in html  # the drift summary, as the task's failure says it
