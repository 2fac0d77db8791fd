"""Retrying a write's Prometheus step (confirm, reload) while Prometheus restarts.

Pure: no Airflow import. The limits are the connection extras ``retry_limit`` / ``retry_delay``
(:func:`airflow_wecube.prometheus.settings.retry_settings`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from airflow_wecube.prometheus.errors import PrometheusError, PrometheusUnreachableError

#: HTTP answers of a Prometheus (or its proxy) that is starting or restarting: worth another try
TRANSIENT_STATUS = frozenset({502, 503, 504})


def transient(exc: PrometheusError) -> bool:
    """Whether ``exc`` says Prometheus is away for now (no answer, or 502/503/504), not that it refused."""
    return isinstance(exc, PrometheusUnreachableError) or (
        type(exc) is PrometheusError and exc.status_code in TRANSIENT_STATUS
    )


def retrying(what: str, fn: Callable[[], Any], *, retries: int, delay: float, log: logging.Logger) -> Any:
    """``fn()``, tried again while Prometheus is unreachable or answers 502/503/504 (a restart):
    at most ``retries`` more times, ``delay`` seconds apart at first, doubling. Any other error,
    and the last transient one, is raised at once."""
    started = time.monotonic()
    for attempt in range(retries + 1):
        try:
            return fn()
        except PrometheusError as exc:
            if not transient(exc):
                raise
            if attempt == retries:
                if not retries:
                    raise
                raise type(exc)(
                    f"{what}: {exc} (after {retries + 1} attempts over {time.monotonic() - started:.0f}s;"
                    " connection extras retry_limit and retry_delay set how long to wait)",
                    status_code=exc.status_code,
                    error_type=exc.error_type,
                ) from None
            wait = delay * 2**attempt
            log.warning("%s: %s; retry %d/%d in %.1fs", what, exc, attempt + 1, retries, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
