"""Validated settings of one manual step: who may answer, how many must agree, what timeouts mean."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PRIORITIES = ("high", "medium", "low")
ON_TIMEOUT = ("fail", "reject", "approve")
ON_REJECT = ("fail", "skip")
DEFAULT_OPTIONS = ("Approve", "Reject")


def normalize_users(users: Any) -> list[dict[str, str]] | None:
    """
    Turn ``approvers`` into Airflow's ``HITLUser`` shape (``{"id", "name"}``).

    Accepts a user name, a list of names, a ``{"id", "name"}`` mapping or a list of those.
    ``None`` (or an empty list) means: anyone allowed by Airflow's permissions may answer.
    """
    if users is None:
        return None
    if isinstance(users, (str, Mapping)):
        users = [users]
    if not isinstance(users, Iterable):
        raise ValueError(f"approvers must be a user name, a {{id, name}} mapping or a list of them, got {users!r}")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for user in users:
        if isinstance(user, str):
            uid = name = user.strip()
        elif isinstance(user, Mapping) and isinstance(user.get("id"), str) and user["id"].strip():
            uid = user["id"].strip()
            name = str(user.get("name") or uid)
        else:
            raise ValueError(f"each approver must be a non-empty user name or a {{id, name}} mapping, got {user!r}")
        if not uid:
            raise ValueError("approver names must not be empty")
        if uid in seen:
            continue
        seen.add(uid)
        out.append({"id": uid, "name": name})
    return out or None


@dataclass(frozen=True)
class ApprovalPolicy:
    """
    The rules of one manual step, checked when the DAG is parsed so a bad setting never reaches a run.

    :param options: labels shown to the approver; at least one must approve.
    :param approve_options: which of ``options`` count as approval (default: the first); every other
        option is a rejection.
    :param approvers: who may answer (Airflow answers 403 to anyone else); ``None``: anyone with access.
    :param required_approvals: number of *distinct* approvers that must approve (four-eyes: 2).
    :param requester_cannot_approve: the user who triggered the run does not count as an approver.
    :param response_timeout: seconds to wait for the decision, ``None`` to wait forever.
    :param on_timeout: ``fail`` | ``reject`` | ``approve``: what an unanswered deadline means.
    :param on_reject: ``fail`` | ``skip``: what a rejection does to the task.
    :param priority: ``high`` | ``medium`` | ``low``; orders the inbox.
    """

    options: Sequence[str] = DEFAULT_OPTIONS
    approve_options: Sequence[str] | None = None
    approvers: Sequence[Mapping[str, str]] | None = None
    required_approvals: int = 1
    requester_cannot_approve: bool = False
    response_timeout: float | None = None
    on_timeout: str = "fail"
    on_reject: str = "fail"
    priority: str = "medium"
    _approve: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        options = list(self.options) if not isinstance(self.options, str) else [self.options]
        if not options:
            raise ValueError("options must not be empty")
        for opt in options:
            if not isinstance(opt, str) or not opt.strip():
                raise ValueError(f"options must be non-empty strings, got {opt!r}")
        if len(set(options)) != len(options):
            raise ValueError(f"options must be unique, got {options}")
        approve = [options[0]] if self.approve_options is None else list(self.approve_options)
        if isinstance(self.approve_options, str):
            approve = [self.approve_options]
        if not approve:
            raise ValueError("approve_options must name at least one option")
        if unknown := set(approve) - set(options):
            raise ValueError(f"approve_options {sorted(unknown)} are not among options {options}")
        object.__setattr__(self, "options", tuple(options))
        object.__setattr__(self, "approve_options", tuple(approve))
        object.__setattr__(self, "_approve", frozenset(approve))
        object.__setattr__(self, "approvers", normalize_users(self.approvers))

        if isinstance(self.required_approvals, bool) or not isinstance(self.required_approvals, int):
            raise ValueError(f"required_approvals must be an integer, got {self.required_approvals!r}")
        if self.required_approvals < 1:
            raise ValueError(f"required_approvals must be at least 1, got {self.required_approvals}")
        if self.approvers is not None and len(self.approvers) < self.required_approvals:
            raise ValueError(
                f"required_approvals={self.required_approvals} but only {len(self.approvers)} approvers "
                f"are allowed ({', '.join(u['id'] for u in self.approvers)})"
            )
        if self.response_timeout is not None:
            if isinstance(self.response_timeout, bool) or not isinstance(self.response_timeout, (int, float)):
                raise ValueError(f"response_timeout must be seconds or a timedelta, got {self.response_timeout!r}")
            if self.response_timeout <= 0:
                raise ValueError(f"response_timeout must be positive, got {self.response_timeout}")
        if self.on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {ON_TIMEOUT}, got {self.on_timeout!r}")
        if self.on_reject not in ON_REJECT:
            raise ValueError(f"on_reject must be one of {ON_REJECT}, got {self.on_reject!r}")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {self.priority!r}")
        if self.on_timeout == "approve" and (self.required_approvals > 1 or self.requester_cannot_approve):
            # a requester could otherwise just wait for the deadline: that would void four-eyes
            raise ValueError(
                "on_timeout='approve' cannot be combined with required_approvals > 1 or "
                "requester_cannot_approve=True: waiting out the deadline would bypass the four-eyes rule"
            )
        if self.on_timeout == "approve" and self.response_timeout is None:
            raise ValueError("on_timeout='approve' needs a response_timeout")

    def is_approval(self, option: str) -> bool:
        """Whether ``option`` approves (every other option rejects)."""
        return option in self._approve

    def assignees_for(self, requester: str | None) -> list[dict[str, str]] | None:
        """
        The users Airflow should accept answers from for a run triggered by ``requester``.

        With ``requester_cannot_approve`` the requester is left out, so Airflow itself refuses
        them (403). Raises ``ValueError`` when too few approvers remain for ``required_approvals``.
        """
        if self.approvers is None:
            return None
        users = [dict(u) for u in self.approvers]
        if self.requester_cannot_approve and requester:
            users = [u for u in users if u["id"] != requester]
            if len(users) < self.required_approvals:
                raise ValueError(
                    f"requester {requester!r} may not approve their own run and only {len(users)} other "
                    f"approvers remain for required_approvals={self.required_approvals}"
                )
        return users
