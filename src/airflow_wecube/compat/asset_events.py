"""Asked again: ``GET /api/v2/assets/events`` while Airflow 3.3.2 answers it with HTTP 500.

Airflow 3.3.2 fails the listing while any listed event has created a run that has not started yet
(``DagRunAssetReference.start_date`` is required: apache/airflow#71360, fixed by #71379): the moment
right after an alert starts a runbook. Asked again, it answers once the run started. Remove this (and
call the endpoint once) when the oldest Airflow supported includes #71379.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: waits between tries while the answer is HTTP 500
BACKOFF: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)


def asked_again_on_500(call: Callable[[], T], status_of: Callable[[Exception], int | None], backoff=BACKOFF) -> T:
    """``call()``, again after each wait of ``backoff`` while it raises an error whose status is 500."""
    waits = iter(backoff)
    while True:
        try:
            return call()
        except Exception as e:
            wait = next(waits, None)
            if status_of(e) != 500 or wait is None:
                raise
            time.sleep(wait)
