"""The texts that tell of a drifted fit: the mail's subject and HTML body, the failure summary.

Pure text from a pipeline report (:func:`airflow_wecube.capacity.pipeline.run`), shared by the
refit DAG, the release gate and the drift notifier in :mod:`airflow_wecube.capacity.airflow`.
"""

from __future__ import annotations

import math
from typing import Any


def _moved(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Moved coefficients, the headline first: features before the intercept, larger relative change first."""
    rows = [r for r in (report.get("drift") or {}).get("coefficients", []) if r.get("moved")]
    return sorted(rows, key=lambda r: (r["name"] == "intercept", -abs(r.get("relative_change") or math.inf)))


def _move_text(row: dict[str, Any]) -> str:
    from airflow_wecube.capacity.fit import format_number

    rel = row.get("relative_change")
    pct = f" ({rel * 100:+.0f}%)" if rel is not None else " (new from 0)"
    return f"{row['name']} {format_number(row['old'])} → {format_number(row['new'])}{pct}"


def drift_subject(report: dict[str, Any]) -> str:
    """One line for a mail subject: ``[capacity] ledger_cpu drifted: accounts_closed 0.267 → 0.35 (+31%)``.

    The coefficient that moved most leads; without a moved coefficient (a Chow test, an R² drop, a
    new factor), the first drift finding does.
    """
    moved = _moved(report)
    if moved:
        what = _move_text(moved[0]) + (f" and {len(moved) - 1} more" if len(moved) > 1 else "")
    else:
        messages = (report.get("drift") or {}).get("messages") or ["see the report"]
        what = messages[0] if len(messages[0]) <= 100 else messages[0][:99] + "…"
    return f"[capacity] {report['model']} drifted: {what}"


def drift_html(report: dict[str, Any], log_url: str | None = None) -> str:
    """The drift e-mail's body: what moved (old → new, by how much, how significant), the summary, the run's link."""
    from html import escape

    from airflow_wecube.capacity.fit import format_number

    drift = report.get("drift") or {}
    parts = [
        f"<h3>Capacity model {escape(report['model'])} drifted from baseline "
        f"{escape(str(drift.get('baseline_version')))}</h3>"
    ]
    moved = _moved(report)
    if moved:
        parts.append(
            '<table border="1" cellpadding="4" cellspacing="0"><tr><th>coefficient</th><th>baseline</th>'
            "<th>new</th><th>change</th><th>baseline 95% CI</th><th>new 95% CI</th><th>z</th><th>p-value</th>"
            "<th>why</th></tr>"
        )
        for r in moved:
            rel = r.get("relative_change")
            z = r.get("z")
            cells = [
                r["name"],
                format_number(r["old"]),
                format_number(r["new"]),
                f"{rel * 100:+.1f}%" if rel is not None else "new from 0",
                f"{format_number(r['old_ci'][0])} .. {format_number(r['old_ci'][1])}",
                f"{format_number(r['new_ci'][0])} .. {format_number(r['new_ci'][1])}",
                f"{z:.1f}" if z is not None else "∞",
                f"{r['p_value']:.2g}",
                "; ".join(r.get("reasons", [])),
            ]
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append(f"<pre>{escape(drift_summary(report))}</pre>")
    parts.append(
        f"<p>The baseline is kept. If the change was intended, make this fit the baseline: "
        f"<code>wecube capacity accept {escape(report['model'])} {escape(str(report['version']))}</code></p>"
    )
    if log_url:
        parts.append(f'<p>Airflow task log: <a href="{escape(log_url, quote=True)}">{escape(log_url)}</a></p>')
    return "\n".join(parts)


def drift_summary(report: dict[str, Any]) -> str:
    """The failure message of a drifted fit: the baseline, each drift finding, the new fit."""
    drift = report.get("drift") or {}
    lines = [f"capacity model {report['model']} drifted from baseline {drift.get('baseline_version')}:"]
    lines += [f"  - {m}" for m in drift.get("messages", [])]
    lines.append(f"  new fit {report['version']}: {report['formula']} (R² {report['r2']:.3f}, n={report['n']})")
    return "\n".join(lines)
