"""Workaround for an Airflow 3.3 race: no resume of a parked task before its worker's exit has been seen.

When a task defers (or parks ``awaiting_input``) its worker process exits and the executor later
reports that exit as ``success`` for the same executor key. If the task is resumed (trigger event,
HITL answer, timeout sweep) and the scheduler queues it *before* it has processed that stale event,
``SchedulerJobRunner.process_executor_events`` finds the task ``queued``/``running`` under the same
key and fails it: "finished with state success, but the task instance's state attribute is queued".
Airflow tolerates this only while the task is still ``scheduled`` (apache/airflow#66374, fixed in
3.2.2); ``queued`` and ``running`` are open (apache/airflow#67287, #71580, #72716; PRs #67330,
#71579), still in 3.3.2. Here the worker's exit took ~3 s after the park, so anything that resumes
a task within a few seconds of its park fails it.

Our workaround: nothing of ours resumes a task sooner than ``settle_seconds()`` after it parked —
our triggers hold their first event (``PrometheusQueryTrigger``), deadlines are never shorter, and
the API server holds an answer to a just-parked HITL request (``airflow_wecube.compat.hitl_settle``),
a process's sub-process nodes look at their sub-runs every ``settle_seconds()`` (after a first look
when they start), and its timer nodes are ended by the triggerer itself (``end_from_trigger``: no resume).
Drop all of it once Airflow ignores a stale defer-exit event in every state (see docs/approvals.md).
"""

from __future__ import annotations

from airflow_wecube.config import OPTIONS, get

DEFAULT_SETTLE_SECONDS = float(OPTIONS["resume_settle_seconds"].default)


def settle_seconds() -> float:
    """``[wecube] resume_settle_seconds`` (env ``AIRFLOW__WECUBE__RESUME_SETTLE_SECONDS``), default 10."""
    return get("resume_settle_seconds")
