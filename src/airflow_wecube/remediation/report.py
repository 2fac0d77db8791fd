"""What a runbook run tells: one entry per alert (the record), the evidence a person gets when
asked, and the run's final message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_wecube.remediation.guard import ACT, ESCALATING

FIXED, FAILED, RECORDED, NOT_DONE = "fixed", "failed", "recorded", "not done"


def outcome_of(entry: Mapping[str, Any]) -> str:
    """``fixed`` | ``failed`` for an entry that acted, ``recorded`` for the others."""
    if entry.get("decision") != ACT:
        return RECORDED
    return FIXED if entry.get("up") else FAILED


def escalation_reasons(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why a person is needed: each fix that failed and each firing alert a guard rail left alone."""
    reasons = []
    for e in entries:
        where = f"{e.get('alertname')} on {e.get('instance') or '?'} ({e.get('target') or 'unknown target'})"
        if e.get("decision") == ACT and e.get("outcome") == FAILED:
            reasons.append(f"{where}: the fix failed: {e.get('error') or 'unknown cause'}")
        elif e.get("decision") in ESCALATING:
            reasons.append(f"{where}: {e.get('decision')}: {e.get('reason')}")
    return reasons


def _attempt_line(a: Mapping[str, Any]) -> str:
    from datetime import datetime, timezone

    at = datetime.fromtimestamp(float(a.get("at") or 0), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    detail = a.get("error") or a.get("reason") or ""
    return f"| {at} | {a.get('run', '')} | {a.get('decision', '')} | {a.get('outcome', '')} | {detail} |"


def evidence_markdown(entries: Sequence[Mapping[str, Any]], reasons: Sequence[str]) -> str:
    """The inbox request's body: why, each alert (labels, annotations, when) and every attempt on its target."""
    lines = ["**Automatic remediation needs a person.**", ""]
    lines += [f"- {r}" for r in reasons]
    for e in entries:
        alert = e.get("alert") or {}
        lines += [
            "",
            f"### {e.get('alertname')} on {e.get('instance')}",
            "",
            f"- target: `{e.get('target') or 'unknown'}`, app `{e.get('app')}`, version `{e.get('version') or '?'}`",
            f"- alert: {alert.get('status')} since {alert.get('startsAt')}, fingerprint `{alert.get('fingerprint')}`",
            f"- summary: {(alert.get('annotations') or {}).get('summary', '-')}",
            f"- this run: **{e.get('decision')}**: {e.get('reason')}"
            + (f"; outcome **{e.get('outcome')}**" if e.get("decision") == ACT else ""),
        ]
        history = list(e.get("history") or [])
        if history:
            lines += ["", "| when (UTC) | run | decision | outcome | detail |", "|---|---|---|---|---|"]
            lines += [_attempt_line(a) for a in history]
    lines += ["", "Fix it by hand, then answer; the next alert for this target is handled automatically again."]
    return "\n".join(lines)


def final_message(entries: Sequence[Mapping[str, Any]], reasons: Sequence[str], answer: str | None = None) -> str:
    """One line per alert, then why a person was asked and what they answered."""
    if not entries:
        return "no alert to handle"
    lines = []
    for e in entries:
        head = f"{e.get('alertname')} {e.get('status')} on {e.get('instance') or '?'}: {e.get('decision')}"
        if e.get("decision") == ACT:
            head += f", {e.get('action', 'redeploy')} -> {e.get('outcome')}"
            if e.get("seconds_to_up") is not None:
                head += f" (up again {e['seconds_to_up']:.1f} s after the run started)"
        lines.append(f"{head}: {e.get('error') or e.get('reason')}")
    if reasons:
        lines.append("Escalated to a person (Required Actions, priority high): " + "; ".join(reasons))
        if answer:
            lines.append(f"Answer: {answer}")
    return "\n".join(lines)


__all__ = ["FAILED", "FIXED", "RECORDED", "escalation_reasons", "evidence_markdown", "final_message", "outcome_of"]
