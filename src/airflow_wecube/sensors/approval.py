"""A manual step (WeCube's human task node) on Airflow's human-in-the-loop machinery, with four-eyes."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk.bases.notifier import BaseNotifier
from airflow.sdk.definitions._internal.types import is_arg_set
from airflow.sdk.definitions.param import Param
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskAwaitingInput,
)
from airflow.sdk.execution_time.hitl import upsert_hitl_detail

from airflow_wecube.approvals.inbox import render_footer, subject_with_priority
from airflow_wecube.approvals.policy import DEFAULT_OPTIONS, ApprovalPolicy
from airflow_wecube.approvals.tally import Response, Tally, decision_record, fingerprint
from airflow_wecube.compat.settle import settle_seconds
from airflow_wecube.util.durations import parse_time

if TYPE_CHECKING:
    from airflow.sdk import Context

STATUS_XCOM_KEY = "approval_status"
DECISION_XCOM_KEY = "decision"
COMMENT_FIELD = "comment"


class ApprovalSensor(HITLOperator):
    """
    Wait for a human decision recorded through Airflow's human-in-the-loop (HITL) machinery.

    The request shows on Airflow's *Required Actions* page and is answered there or by REST
    (``PATCH .../hitlDetails``). The task waits in state ``awaiting_input`` (no worker slot, no
    triggerer). Unlike Airflow's ``ApprovalOperator`` it can require several distinct approvers
    (four-eyes), refuse the run's requester, and re-check the evidence after approval. Each answer
    that does not settle the decision re-opens the same request (see docs/approvals.md). An answer
    given the instant the request appears is held a few seconds by the provider's API-server
    middleware, working around an Airflow 3.3.2 race that would fail the task (``ui/hitl_settle.py``).

    Returns (XCom ``return_value``, also under key ``decision``) the decision record
    ``{decision, approvers: [{by, at, comment, option}], form, timed_out, evidence, ignored}``.

    :param subject: headline of the request (templated); shown as ``[PRIORITY] subject``.
    :param body: Markdown evidence the approver decides on (templated), e.g. a plan from upstream XCom.
    :param approvers: user names (or ``{"id", "name"}``) allowed to answer; Airflow answers 403 to
        anyone else. ``None``: anyone with access to the DAG's HITL details.
    :param options: labels offered; ``approve_options`` (default: the first) approve, the rest reject.
    :param approve_options: which ``options`` count as approval.
    :param form: extra form fields (name -> ``Param`` or default value) the approver fills; validated
        on approval (an invalid approval does not count and the request re-opens). A ``comment``
        field is always offered.
    :param response_timeout: how long to wait for the decision (``timedelta`` or seconds), over all
        re-opened requests together.
    :param on_timeout: ``fail`` (default; skip instead with ``soft_fail``) | ``reject`` | ``approve``.
    :param on_reject: ``fail`` (default: the task fails naming who rejected and why, downstream does
        not run) | ``skip`` (the task and, by trigger rules, downstream are skipped).
    :param priority: ``high`` | ``medium`` | ``low``: in the subject, the body and ``wecube approvals list``.
    :param required_approvals: distinct approvers needed; the same person twice counts once.
    :param requester_cannot_approve: the user who triggered the run does not count (and, if
        ``approvers`` is given, is not even assigned).
    :param evidence: callable ``(context) -> value`` or a Jinja template string; its fingerprint is
        taken when the request is made and again once approved. If it changed, the approvals are
        void, the approvers are told why (log, XCom ``approval_status``, notifiers) and it waits again.
    :param notifiers: Airflow notifiers called when the request opens and whenever it re-opens; the
        context carries ``approval`` = ``{url, subject, priority, reason, round, approvals, required}``.
    :param soft_fail: on timeout with ``on_timeout="fail"``, skip instead of failing (sensor semantics).
    """

    template_fields: Collection[str] = ("subject", "body")
    ui_color = "#fdf2d0"

    def __init__(
        self,
        *,
        subject: str,
        body: str | None = None,
        approvers: str | Sequence[str | Mapping[str, str]] | None = None,
        options: Sequence[str] = DEFAULT_OPTIONS,
        approve_options: Sequence[str] | None = None,
        form: Mapping[str, Any] | None = None,
        response_timeout: timedelta | float | None = None,
        on_timeout: str = "fail",
        on_reject: str = "fail",
        priority: str = "medium",
        required_approvals: int = 1,
        requester_cannot_approve: bool = False,
        evidence: Callable[[Context], Any] | str | None = None,
        notifiers: Sequence[BaseNotifier] | BaseNotifier | None = None,
        soft_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        if "params" in kwargs:
            # Airflow passes the DAG's params to every task; only params set on this task are refused.
            from airflow.sdk.definitions.param import ParamsDict

            given = kwargs.pop("params")
            given = given if isinstance(given, ParamsDict) else ParamsDict(given or {})
            if hasattr(ParamsDict, "filter_params_by_source"):
                given = ParamsDict.filter_params_by_source(given, source="task")
            if given:
                raise ValueError("ApprovalSensor does not take 'params'; use 'form'")
        for fixed in ("defaults", "multiple", "assigned_users"):
            if fixed in kwargs:
                alt = {"assigned_users": "approvers"}.get(fixed)
                raise ValueError(f"ApprovalSensor does not take {fixed!r}" + (f"; use {alt!r}" if alt else ""))
        if isinstance(response_timeout, timedelta):
            timeout_s: float | None = response_timeout.total_seconds()
        else:
            timeout_s = response_timeout
        self.policy = ApprovalPolicy(
            options=options,
            approve_options=approve_options,
            approvers=approvers,
            required_approvals=required_approvals,
            requester_cannot_approve=requester_cannot_approve,
            response_timeout=timeout_s,
            on_timeout=on_timeout,
            on_reject=on_reject,
            priority=priority,
        )
        if evidence is not None and not (callable(evidence) or isinstance(evidence, str)):
            raise ValueError(f"evidence must be a callable(context) or a template string, got {evidence!r}")
        if not isinstance(subject, str) or not subject.strip():
            raise ValueError("subject must be a non-empty string")
        fields, self.required_fields = self._form_params(form)
        super().__init__(
            subject=subject,
            body=body,
            options=list(self.policy.options),
            defaults=None,
            multiple=False,
            params=fields,
            notifiers=notifiers,
            assigned_users=self.policy.approvers,
            response_timeout=timedelta(seconds=timeout_s) if timeout_s else None,
            **kwargs,
        )
        self.approvers = self.policy.approvers
        self.approve_options = self.policy.approve_options
        self.on_timeout = on_timeout
        self.on_reject = on_reject
        self.priority = priority
        self.required_approvals = required_approvals
        self.requester_cannot_approve = requester_cannot_approve
        self.evidence = evidence
        self.soft_fail = soft_fail
        self.hitl_summary_extra.update(
            {
                "priority": priority,
                "required_approvals": required_approvals,
                "requester_cannot_approve": requester_cannot_approve,
            }
        )

    # ---------------------------------------------------------------- parse-time helpers

    @staticmethod
    def _form_params(form: Mapping[str, Any] | None) -> tuple[dict[str, Param], set[str]]:
        if form is not None and not isinstance(form, Mapping):
            raise ValueError(f"form must be a mapping of field name to Param or default, got {form!r}")
        fields: dict[str, Param] = {}
        required: set[str] = set()
        for name, spec in (form or {}).items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"form field names must be identifiers, got {name!r}")
            if name == "_options":
                raise ValueError('"_options" is reserved by Airflow and cannot be a form field')
            param = spec if isinstance(spec, Param) else Param(spec)
            if not is_arg_set(param.value) or param.value is None:
                schema = dict(param.schema)
                types = schema.get("type")
                if types is not None and "null" not in (types if isinstance(types, list) else [types]):
                    # no default and null not allowed: required. Airflow validates task params when the
                    # task starts, so the empty field must be valid then; we enforce it on approval.
                    required.add(name)
                    schema["type"] = [*(types if isinstance(types, list) else [types]), "null"]
                param = Param(None, description=param.description, **schema)
            fields[name] = param
        fields.setdefault(
            COMMENT_FIELD,
            Param(None, type=["null", "string"], title="Comment", description="Why you decided so."),
        )
        return fields, required

    # ---------------------------------------------------------------- runtime

    def execute(self, context: Context) -> Any:
        requester = context["dag_run"].triggering_user_name
        try:
            assignees = self.policy.assignees_for(requester)
        except ValueError as e:
            raise AirflowFailException(str(e)) from None
        deadline = (
            datetime.now(timezone.utc) + timedelta(seconds=self.policy.response_timeout)
            if self.policy.response_timeout
            else None
        )
        evidence = self._evidence(context)
        self._request = {
            "subject": subject_with_priority(self.subject, self.priority),
            "body": (self.body or "")
            + "\n"
            + render_footer(
                priority=self.priority,
                required_approvals=self.required_approvals,
                requester_cannot_approve=self.requester_cannot_approve,
                deadline=deadline,
                evidence=evidence,
            ),
            "assignees": assignees,
        }
        state = {
            "tally": Tally().to_dict(),
            "deadline": deadline.isoformat() if deadline else None,
            "evidence": evidence,
            "requester": requester,
            "round": 1,
            "request": self._request,
        }
        self.log.info(
            "Requesting approval: %s (priority %s, %d distinct approval(s) needed, approvers: %s, requester: %s)",
            self.subject,
            self.priority,
            self.required_approvals,
            ", ".join(u["id"] for u in assignees) if assignees else "anyone with access",
            requester,
        )
        return self._open(context, state, reason=None)

    def execute_complete(self, context: Context, event: dict[str, Any], wecube_state: dict | None = None) -> Any:
        state = wecube_state or {}
        tally = Tally.from_dict(state.get("tally"))
        if "error" in event:
            if event.get("error_type") == "timeout":
                return self._timed_out(context, state, tally)
            raise AirflowFailException(f"approval request failed: {event.get('error')}")
        chosen = list(event.get("chosen_options") or [])
        user = event.get("responded_by_user") or {}
        if event.get("timedout") or not user:
            return self._timed_out(context, state, tally)
        by = user.get("id")
        at = event.get("responded_at")
        at = at.isoformat() if isinstance(at, datetime) else (str(at) if at else None)
        if len(chosen) != 1 or chosen[0] not in self.policy.options:
            return self._reopen(
                context, state, tally, f"answer {chosen} from {by} is not one of {list(self.policy.options)}"
            )
        option = chosen[0]
        approving = self.policy.is_approval(option)
        form, error = self._check_form(event.get("params_input") or {}, strict=approving)
        if error:
            return self._reopen(context, state, tally, f"approval by {by} does not count: {error}")
        outcome, reason = tally.add(
            Response(by=by, at=at, option=option, form=form), self.policy, state.get("requester")
        )
        self.log.info("Answer %r from %s at %s: %s", option, by, at, reason or outcome)
        if outcome == "rejected":
            return self._rejected(context, state, tally, timed_out=False)
        if outcome == "pending":
            return self._reopen(context, state, tally, reason or "waiting for more approvals")
        # approved: the evidence must still be what the approvers saw
        if self.evidence is not None:
            now_fp = self._evidence(context)
            if now_fp != state.get("evidence"):
                why = (
                    f"the evidence changed after approval ({state.get('evidence')} -> {now_fp}); "
                    f"approvals by {', '.join(tally.approvers)} are void: review again"
                )
                tally.void(why)
                state["evidence"] = now_fp
                return self._reopen(context, state, tally, why)
        record = decision_record("approved", tally, evidence=state.get("evidence"))
        return self._finish(context, record)

    # ---------------------------------------------------------------- internals

    def _open(self, context: Context, state: dict, reason: str | None) -> Any:
        """(Re-)open the HITL request for this task instance and park the task until it is answered."""
        remaining = None
        if state.get("deadline"):
            remaining = parse_time(state["deadline"]) - datetime.now(timezone.utc)
            if remaining.total_seconds() <= 0:
                return self._timed_out(context, state, Tally.from_dict(state.get("tally")))
        request = state["request"]
        # On a task instance that already has a HITL request, this clears its response (Airflow keeps
        # one request per task instance), which re-opens it for the next answer.
        upsert_hitl_detail(
            ti_id=context["task_instance"].id,
            options=list(self.policy.options),
            subject=request["subject"],
            body=request["body"],
            defaults=None,
            multiple=False,
            params=self.serialized_params,
            assigned_users=request["assignees"],
        )
        tally = Tally.from_dict(state.get("tally"))
        status = {
            "open": True,
            "round": state.get("round", 1),
            "reason": reason,
            "approvals": tally.approvers,
            "required": self.required_approvals,
            "deadline": state.get("deadline"),
            "evidence": state.get("evidence"),
        }
        context["ti"].xcom_push(key=STATUS_XCOM_KEY, value=status)
        self._notify(context, status)
        if remaining is not None:
            # Airflow 3.3.2 fails a task resumed within seconds of its park (stale executor event, see
            # airflow_wecube.compat.settle): the timeout sweep must not resume it sooner than that.
            # Answers are held by the API-server middleware airflow_wecube.compat.hitl_settle.
            remaining = max(remaining, timedelta(seconds=settle_seconds()))
        raise TaskAwaitingInput(
            method_name="execute_complete",
            kwargs={"wecube_state": state},
            timeout=remaining,
        )

    def _reopen(self, context: Context, state: dict, tally: Tally, reason: str) -> Any:
        self.log.warning("Request re-opened: %s", reason)
        state = {**state, "tally": tally.to_dict(), "round": int(state.get("round", 1)) + 1}
        return self._open(context, state, reason)

    def _timed_out(self, context: Context, state: dict, tally: Tally) -> Any:
        waited = f"no decision by the deadline {state.get('deadline')}"
        if tally.approvals:
            waited += (
                f" (only {len(tally.approvals)} of {self.required_approvals} approvals: {', '.join(tally.approvers)})"
            )
        if self.on_timeout == "approve":
            self.log.warning("%s: approved by on_timeout='approve'", waited)
            record = decision_record("approved", tally, timed_out=True, evidence=state.get("evidence"))
            return self._finish(context, record)
        if self.on_timeout == "reject":
            self.log.warning("%s: rejected by on_timeout='reject'", waited)
            tally.rejection = {
                "by": None,
                "at": datetime.now(timezone.utc).isoformat(),
                "option": None,
                "comment": f"timeout: {waited}",
                "form": {},
            }
            return self._rejected(context, state, tally, timed_out=True)
        context["ti"].xcom_push(key=STATUS_XCOM_KEY, value={"open": False, "reason": f"timeout: {waited}"})
        if self.soft_fail:
            raise AirflowSkipException(f"Approval timed out: {waited} (soft_fail)")
        raise AirflowSensorTimeout(f"Approval timed out: {waited}")

    def _rejected(self, context: Context, state: dict, tally: Tally, *, timed_out: bool) -> Any:
        record = decision_record("rejected", tally, rejected_by_timeout=timed_out, evidence=state.get("evidence"))
        self._record(context, record)
        rej = tally.rejection or {}
        who = "timeout" if timed_out else rej.get("by")
        msg = f"Rejected by {who}" + (f": {rej.get('comment')}" if rej.get("comment") else "")
        if self.on_reject == "skip":
            raise AirflowSkipException(msg)
        raise AirflowFailException(msg)

    def _finish(self, context: Context, record: dict) -> dict:
        self._record(context, record)
        return record

    def _record(self, context: Context, record: dict) -> None:
        self.log.info("Decision: %s", record)
        self.hitl_summary_extra["decision"] = record["decision"]
        context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=record)
        context["ti"].xcom_push(key=STATUS_XCOM_KEY, value={"open": False, "decision": record["decision"]})

    def _evidence(self, context: Context) -> str | None:
        if self.evidence is None:
            return None
        if callable(self.evidence):
            value = self.evidence(context)
        else:
            value = self.render_template(self.evidence, context)
        return fingerprint(value)

    def _check_form(self, params_input: Mapping[str, Any], *, strict: bool) -> tuple[dict[str, Any], str | None]:
        """Validate an answer's form; ``strict`` (approvals) enforces the schema, rejections keep what was given."""
        if not isinstance(params_input, Mapping):
            return {}, f"form must be an object, got {type(params_input).__name__}"
        unknown = set(params_input) - set(self.params.keys())
        if unknown:
            return {}, f"unknown form fields {sorted(unknown)}"
        form: dict[str, Any] = {}
        errors = []
        for key in self.params.keys():
            param = copy.deepcopy(self.params.get_param(key))
            if key in params_input:
                value = params_input[key]
            else:
                value = param.value
            if not strict:
                form[key] = value if key in params_input else (param.value if _has_value(param) else None)
                continue
            if key in self.required_fields and value in (None, ""):
                errors.append(f"{key}: required field is missing")
                continue
            try:
                form[key] = param.resolve(value=value)
            except Exception as e:  # ParamValidationError, TypeError: a human's bad input, not a bug
                errors.append(
                    f"{key}: " + ("required field is missing" if value in (None, "") else str(e).splitlines()[0])
                )
        return form, ("; ".join(errors) if errors else None)

    def _notify(self, context: Context, status: dict) -> None:
        if not self.notifiers:
            return
        try:
            url = self.generate_link_to_ui(task_instance=context["task_instance"])
        except ValueError:
            url = None
        context["approval"] = {  # type: ignore[typeddict-unknown-key]
            "url": url,
            "subject": subject_with_priority(self.subject, self.priority),
            "priority": self.priority,
            **status,
        }
        for notifier in self.notifiers:
            try:
                notifier(context)
            except Exception:
                # a broken notification channel must not lose the approval request itself
                self.log.exception("Notifier %r failed", notifier)


def _has_value(param: Param) -> bool:
    return is_arg_set(param.value)


__all__ = ["ApprovalSensor", "DECISION_XCOM_KEY", "STATUS_XCOM_KEY"]
