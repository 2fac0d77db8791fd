"""The capacity probe's report in Markdown: the evidence an approver and the developers read.

Sections: the verdict and its reasons, the coefficients (baseline and new value, 95 % intervals,
relative change), R², the candidates, the load schedule as it ran, and where the plot is. Pure text
from the probe result (:func:`airflow_wecube.capacity.probe_fit.analyse` plus what the operator adds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_MARK = {"pass": "PASS", "regression": "REGRESSION", "new_factor": "NEW FACTOR"}


def _n(value: Any) -> str:
    from airflow_wecube.capacity.fit import format_number

    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return format_number(float(value), 3)


def _ci(c: Mapping[str, Any] | None) -> str:
    if not c:
        return "–"
    return f"{_n(c['value'])} [{_n(c['ci_low'])}, {_n(c['ci_high'])}]"


def _pct(value: Any) -> str:
    return f"{value * 100:+.1f}%" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def render_markdown(result: Mapping[str, Any]) -> str:
    """The report of one probe (``result`` as the operator returns it)."""
    verdict = result["verdict"]
    app = result.get("app_version") or "?"
    base_app = result.get("baseline_app_version")
    lines = [
        f"## Capacity probe: {result['model']} {app} — **{_MARK.get(verdict, verdict)}**",
        "",
        f"Canary: {', '.join(result.get('instances') or []) or '?'}; window {result.get('start')} .. "
        f"{result.get('end')}; {result.get('n')} samples; standard errors: {result.get('inference') or '?'}.",
        "",
    ]
    if result.get("baseline_version"):
        lines.append(
            f"Compared with the baseline of {base_app or 'the released version'} "
            f"(model version `{result['baseline_version']}`)."
        )
    else:
        lines.append("No baseline yet: this fit is the first one.")
    lines += ["", "### Why", ""] + [f"- {r}" for r in result.get("reasons") or []]
    lines += [
        "",
        "### Coefficients (95% intervals)",
        "",
        "| coefficient | baseline | new | change | regressed |",
        "|---|---|---|---|---|",
    ]
    for r in result.get("coefficient_table") or []:
        mark = "**yes**" if r["regressed"] else ("no" if r["baseline"] else "–")
        change = _pct(r["relative_change"])
        lines.append(f"| {r['name']} | {_ci(r['baseline'])} | {_ci(r['new'])} | {change} | {mark} |")
    r2 = result.get("r2") or {}
    lines += [
        "",
        f"R²: baseline {_n(r2.get('baseline'))}, new {_n(r2.get('new'))}"
        + (f" (drop {_n(r2.get('drop'))})" if r2.get("drop") is not None else "")
        + f". Model: `{result.get('formula')}`.",
    ]
    cands = result.get("candidates") or []
    if cands:
        lines += [
            "",
            "### Candidates (factors not in the model)",
            "",
            "| candidate | coefficient | p-value | R² gain | |",
            "|---|---|---|---|---|",
        ]
        for c in cands:
            if c.get("testable"):
                p = f"{c['p_value']:.2g}" if c.get("p_value") is not None else "–"
                found = "**new factor**" if c["name"] in (result.get("new_factors") or []) else "no"
                lines.append(f"| {c['name']} | {_ci(c)} | {p} | {c['r2_gain']:+.3f} | {found} |")
            else:
                lines.append(f"| {c['name']} | – | – | – | not testable: {c.get('reason')} |")
    t = result.get("thresholds") or {}
    lines += [
        "",
        f"Rules: a cost rising more than {_pct(t.get('max_relative_change'))} with intervals apart, or R² "
        f"dropping more than {_n(t.get('max_r2_drop'))}, is a regression; a candidate with p < "
        f"{_n(t.get('alpha'))} adding at least {_n(t.get('min_r2_gain'))} to R² is a new factor.",
    ]
    steps = result.get("steps") or []
    if steps:
        names = list(steps[0]["rates"])
        per_step = result.get("samples_per_step") or []
        lines += [
            "",
            f"### Load schedule ({len(steps)} steps, {result.get('hold_seconds')} s each, first scrape "
            "interval of each discarded)",
            "",
            "| step | " + " | ".join(names) + " | samples |",
            "|---|" + "---|" * (len(names) + 1),
        ]
        for i, s in enumerate(steps):
            kept = per_step[i] if i < len(per_step) else "?"
            lines.append(f"| {i + 1} | " + " | ".join(f"{s['rates'][n]:g}" for n in names) + f" | {kept} |")
    if result.get("plot"):
        lines += ["", f"Plot: `{result['plot']}`"]
    if result.get("version"):
        lines += [f"Stored as model `{result['model']}` version `{result['version']}`."]
    return "\n".join(lines) + "\n"


__all__ = ["render_markdown"]
