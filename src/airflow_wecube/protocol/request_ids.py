"""``requestId``s that stay the same across retries of one task instance (DESIGN §4).

A plugin drops a repeated ``requestId`` (the sandbox answers it with the first result), so a retry
must send the id its first try sent: after a worker was killed mid-call, the retry on another worker
then creates nothing twice. The id comes from the task instance (dag, run, task, map index), never
from the try number.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

_calls: Counter[tuple[str, str, int | None]] = Counter()
_lock = threading.Lock()


def stable_request_id(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The same id on every retry of one task instance, so a plugin can drop a duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow://{dag_id}/{run_id}/{task_id}/{map_index}"))


def _running_task_instance():
    """The task instance this process runs, or ``None`` outside a task (a script, a test)."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()["ti"]
    except Exception:  # no task context here: RuntimeError (or an Airflow without the task SDK)
        return None


def task_request_id(service: str) -> str:
    """The id of the next call of ``service`` made by the running task instance.

    The n-th call of a service in one try gets the n-th id, the same in every try (a task's code
    makes its calls in the same order each time); outside a task, a new UUID.
    """
    ti = _running_task_instance()
    if ti is None:
        return str(uuid.uuid4())
    map_index = ti.map_index if ti.map_index is not None else -1
    base = stable_request_id(ti.dag_id, ti.run_id, ti.task_id, map_index)
    key = (base, service, getattr(ti, "try_number", None))  # each try counts from 0, even in one process
    with _lock:
        n = _calls[key]
        _calls[key] += 1
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"wecube-call://{base}/{service}/{n}"))
