"""What a reconcile run tells: per difference its action, decision, outcome and before/after; the
evidence a person gets when asked; the run's message (shown on the *Loop actions* page)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_wecube.reconcile.differences import OK
from airflow_wecube.reconcile.execute import FAILED, FIXED
from airflow_wecube.reconcile.plan import ACT, ASKED, DRY_RUN, IGNORED


def _brief(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not row:
        return None
    return {k: row[k] for k in ("status", "detail", "diff") if k in row}


def with_after(entries: Sequence[Mapping[str, Any]], rows_after: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each entry with ``before`` (its row when planned) and ``after`` (reality read again); a fix that
    reality does not show is ``failed`` (``not converged``)."""
    after = {r["key"]: r for r in rows_after}
    out = []
    for e in entries:
        e = dict(e)
        now = after.get(e["key"])
        e["before"] = _brief(e.get("row"))
        e["after"] = _brief(now) or {"status": OK, "detail": "gone from the comparison"}
        if e.get("outcome") == FIXED and now is not None and now.get("status") != OK:
            e.update(outcome=FAILED, error=f"not converged: still {now['status']} ({now.get('detail', '')})")
        e.pop("row", None)
        out.append(e)
    return out


def line(e: Mapping[str, Any]) -> str:
    head = f"{e['kind']} {e['name']}: {e['class']} -> {e['action']}, {e['decision']}"
    if e["decision"] == ACT:
        head += f" -> {e.get('outcome')}"
        detail = e.get("error") or e.get("warning") or ""
    else:
        detail = e.get("reason", "")
    return f"{head}: {detail}" if detail else head


def message(entries: Sequence[Mapping[str, Any]], *, dry_run: bool = False, answer: str | None = None) -> str:
    """One line per difference, then the totals (``nothing to do`` when reality equals the design)."""
    if not entries:
        return "nothing to do: reality equals the design"
    if all(e["decision"] == IGNORED for e in entries):
        left = ", ".join(f"{e['kind']} {e['name']}" for e in entries)
        return f"nothing to do: reality equals the design, but for what is left as it is ({left})"
    lines = [line(e) for e in entries]
    fixed = sum(e.get("outcome") == FIXED for e in entries)
    failed = sum(e.get("outcome") == FAILED for e in entries)
    asked = sum(e["decision"] == ASKED for e in entries)
    total = f"{len(entries)} difference(s): {fixed} fixed, {failed} failed, {asked} asked"
    if dry_run:
        total += f", {sum(e['decision'] == DRY_RUN for e in entries)} would change (dry run)"
    lines.append(total)
    if answer:
        lines.append(f"Answer: {answer}")
    return "\n".join(lines)


def evidence(entries: Sequence[Mapping[str, Any]]) -> str:
    """The Required Actions body: each difference a person decides, what it is and what yes does."""
    lines = ["**The reconcile needs a person** for these differences between the design and reality.", ""]
    lines += ["| difference | class | why asked | on *Apply* |", "|---|---|---|---|"]
    for e in entries:
        if e["decision"] != ASKED:
            continue
        diff = "; ".join(f"{d['attribute']}: {d['designed']} -> {d['actual']}" for d in e.get("diff") or [])
        what = f"{e['kind']} `{e['name']}`" + (f" ({diff})" if diff else f" ({e.get('detail', '')})")
        lines.append(f"| {what} | {e['class']} | {e['reason']} | {e.get('proposal') or 'nothing'} |")
    lines += [
        "",
        "*Apply* carries out the last column; *Leave it* keeps reality as it is and the reconcile stops "
        "asking about these (the design page shows them as accepted).",
    ]
    return "\n".join(lines)


__all__ = ["evidence", "line", "message", "with_after"]
