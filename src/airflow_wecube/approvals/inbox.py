"""The request footer an ApprovalSensor writes, and the ordering of the pending-approvals inbox."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_wecube.approvals.policy import PRIORITIES
from airflow_wecube.util.durations import parse_time

_RANK = {p: i for i, p in enumerate(PRIORITIES)}
_SUBJECT_RE = re.compile(r"^\[(high|medium|low)\]\s*", re.IGNORECASE)
_FIELD_RE = re.compile(r"^\*\*(Priority|Deadline|Approvals needed):\*\*\s*(.+?)\s*$", re.MULTILINE)


def subject_with_priority(subject: str, priority: str) -> str:
    """``[HIGH] subject``: priority shows in the Required Actions list, not only in the body."""
    return f"[{priority.upper()}] {_SUBJECT_RE.sub('', subject)}"


def render_footer(
    *,
    priority: str,
    required_approvals: int,
    requester_cannot_approve: bool,
    deadline: datetime | None,
    evidence: str | None,
) -> str:
    """The facts an approver needs beside the evidence, one per line (also parsed back by the inbox)."""
    need = f"{required_approvals} distinct" if required_approvals > 1 else "1"
    if requester_cannot_approve:
        need += " (the requester may not approve)"
    lines = [
        "",
        "---",
        f"**Priority:** {priority}",
        "",
        f"**Approvals needed:** {need}",
        "",
        f"**Deadline:** {deadline.astimezone(timezone.utc).isoformat(timespec='seconds') if deadline else 'none'}",
    ]
    if evidence:
        lines += [
            "",
            f"**Evidence fingerprint:** `{evidence}` (checked again after approval: if it "
            "changes, approvals are void and the request re-opens)",
        ]
    return "\n".join(lines)


def parse_request(subject: str | None, body: str | None) -> dict[str, Any]:
    """Read priority / deadline back from a request; plain HITL requests default to ``medium``, no deadline."""
    out: dict[str, Any] = {"priority": "medium", "deadline": None, "required": None}
    fields = dict(_FIELD_RE.findall(body or ""))
    if (p := fields.get("Priority", "").strip().lower()) in _RANK:
        out["priority"] = p
    elif subject and (m := _SUBJECT_RE.match(subject)):
        out["priority"] = m.group(1).lower()
    deadline = fields.get("Deadline", "").strip()
    if deadline and deadline != "none":
        try:
            out["deadline"] = parse_time(deadline)
        except ValueError:
            pass
    if fields.get("Approvals needed"):
        out["required"] = fields["Approvals needed"]
    return out


def inbox_rows(details: Iterable[Mapping[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """
    Pending requests (Airflow ``hitlDetails`` JSON) as inbox rows, highest priority first, then oldest.

    A request whose task already finished (e.g. failed on timeout without an answer) is not pending.
    """
    now = now or datetime.now(timezone.utc)
    finished = {"success", "failed", "skipped", "upstream_failed", "removed"}
    rows = []
    for d in details:
        ti = d.get("task_instance") or {}
        if d.get("response_received") or ti.get("state") in finished:
            continue
        meta = parse_request(d.get("subject"), d.get("body"))
        try:
            created = parse_time(d["created_at"])
        except ValueError as e:
            raise ValueError(
                f"approval request of task {ti.get('dag_id')}.{ti.get('task_id')}: created_at: {e}"
            ) from None
        rows.append(
            {
                "dag_id": ti.get("dag_id"),
                "run_id": ti.get("dag_run_id"),
                "task_id": ti.get("task_id"),
                "map_index": ti.get("map_index", -1),
                "subject": _SUBJECT_RE.sub("", d.get("subject") or ""),
                "priority": meta["priority"],
                "created_at": created.isoformat(),
                "age_seconds": max(0, int((now - created).total_seconds())),
                "deadline": meta["deadline"].isoformat() if meta["deadline"] else None,
                "approvers": [u.get("name") or u.get("id") for u in d.get("assigned_users") or []],
                "state": ti.get("state"),
            }
        )
    rows.sort(key=lambda r: (_RANK.get(r["priority"], 1), r["created_at"]))
    return rows


def human_age(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table for the terminal."""
    if not rows:
        return "no pending approvals"
    headers = ["PRIORITY", "AGE", "DEADLINE", "DAG", "RUN", "TASK", "SUBJECT", "APPROVERS"]
    table = [headers] + [
        [
            r["priority"],
            human_age(r["age_seconds"]),
            r["deadline"] or "-",
            r["dag_id"] or "",
            r["run_id"] or "",
            r["task_id"] if r["map_index"] in (-1, None) else f"{r['task_id']}[{r['map_index']}]",
            r["subject"],
            ",".join(r["approvers"]) or "(any)",
        ]
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in table)
