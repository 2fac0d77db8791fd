"""Pure approval logic (no Airflow import): policies, tallying of responses, decision record, inbox order.

The Airflow-facing part is :class:`airflow_wecube.sensors.approval.ApprovalSensor`; keeping the rules
here makes them fast to unit-test and reusable by the CLI.
"""

from airflow_wecube.approvals.policy import (
    ON_REJECT,
    ON_TIMEOUT,
    PRIORITIES,
    ApprovalPolicy,
    normalize_users,
)
from airflow_wecube.approvals.tally import Response, Tally, decision_record, fingerprint

__all__ = [
    "ON_REJECT",
    "ON_TIMEOUT",
    "PRIORITIES",
    "ApprovalPolicy",
    "Response",
    "Tally",
    "decision_record",
    "fingerprint",
    "normalize_users",
]
