"""Counting responses toward a decision, and the decision record a manual step returns."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from airflow_wecube.approvals.policy import ApprovalPolicy


def fingerprint(value: Any) -> str | None:
    """A stable hash of evidence (plan, diff, ...): ``sha256:<hex>``; ``None`` when there is no evidence."""
    if value is None:
        return None
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Response:
    """One answer from Airflow's human-in-the-loop request (who, when, which option, the form)."""

    by: str | None
    at: str | None
    option: str
    form: dict[str, Any] = field(default_factory=dict)

    @property
    def comment(self) -> str | None:
        value = self.form.get("comment")
        return value if value not in ("", None) else None


@dataclass
class Tally:
    """
    The running count of approvals of one manual step; serialisable (``to_dict``/``from_dict``)
    so it survives between the successive requests the step makes.

    ``add`` returns ``(outcome, reason)``: outcome ``approved`` | ``rejected`` | ``pending``;
    ``reason`` says why a response did not count (shown in the task log and to notifiers).
    """

    approvals: list[dict[str, Any]] = field(default_factory=list)
    rejection: dict[str, Any] | None = None
    ignored: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"approvals": self.approvals, "rejection": self.rejection, "ignored": self.ignored}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Tally:
        data = data or {}
        return cls(
            approvals=list(data.get("approvals") or []),
            rejection=data.get("rejection"),
            ignored=list(data.get("ignored") or []),
        )

    @property
    def approvers(self) -> list[str]:
        return [a["by"] for a in self.approvals]

    def add(self, response: Response, policy: ApprovalPolicy, requester: str | None) -> tuple[str, str | None]:
        entry = {
            "by": response.by,
            "at": response.at,
            "comment": response.comment,
            "option": response.option,
            "form": dict(response.form),
        }
        if not policy.is_approval(response.option):
            self.rejection = entry
            return "rejected", None
        reason = None
        if response.by is None:
            reason = "an approval without a user does not count"
        elif policy.requester_cannot_approve and requester and response.by == requester:
            reason = f"{response.by} triggered this run and may not approve it (requester_cannot_approve)"
        elif response.by in self.approvers:
            reason = f"{response.by} already approved; the same person counts once"
        if reason:
            self.ignored.append({**entry, "reason": reason})
            return "pending", reason
        self.approvals.append(entry)
        if len(self.approvals) >= policy.required_approvals:
            return "approved", None
        return "pending", (
            f"{len(self.approvals)} of {policy.required_approvals} distinct approvals "
            f"({', '.join(self.approvers)}); waiting for another approver"
        )

    def void(self, reason: str) -> None:
        """Drop the approvals collected so far (e.g. the evidence changed); they are kept as ignored."""
        self.ignored.extend({**a, "reason": reason} for a in self.approvals)
        self.approvals = []


def decision_record(
    decision: str,
    tally: Tally,
    *,
    timed_out: bool = False,
    evidence: str | None = None,
    rejected_by_timeout: bool = False,
) -> dict[str, Any]:
    """
    The record a manual step returns as XCom: ``{decision, approvers: [{by, at, comment}], form, ...}``.

    For a rejection, ``approvers`` holds the rejecting answer. ``form`` merges the forms of the
    counted answers in order (a later non-empty value wins).
    """
    if decision not in ("approved", "rejected"):
        raise ValueError(f"decision must be 'approved' or 'rejected', got {decision!r}")
    entries = tally.approvals if decision == "approved" else ([tally.rejection] if tally.rejection else [])
    form: dict[str, Any] = {}
    for e in entries:
        for k, v in (e.get("form") or {}).items():
            if v not in (None, "") or k not in form:
                form[k] = v
    return {
        "decision": decision,
        "approvers": [
            {"by": e["by"], "at": e["at"], "comment": e.get("comment"), "option": e["option"]} for e in entries
        ],
        "form": form,
        "timed_out": timed_out or rejected_by_timeout,
        "evidence": evidence,
        "ignored": [{"by": i["by"], "reason": i["reason"]} for i in tally.ignored],
    }


__all__ = ["Response", "Tally", "decision_record", "fingerprint"]
