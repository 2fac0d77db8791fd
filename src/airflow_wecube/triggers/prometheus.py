"""Async trigger polling a PromQL condition for the deferrable ``PrometheusQuerySensor``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_wecube.prometheus.conditions import jsonable_series, parse_condition
from airflow_wecube.prometheus.errors import PrometheusError, PrometheusQueryError


class PrometheusQueryTrigger(BaseTrigger):
    """Poll ``promql`` until ``condition`` holds, then fire one event.

    Events (payload ``status``): ``success`` (with ``series``), ``timeout`` (``end_time`` passed,
    with the last verdict), ``error`` (Prometheus refused the query: retrying cannot help).
    An unreachable Prometheus is logged and polled again.

    :param promql: the PromQL expression
    :param condition: the sensor condition, e.g. ``"== 1"``, ``"count >= 3"``
    :param prometheus_conn_id: the ``prometheus`` connection
    :param poke_interval: seconds between queries
    :param end_time: unix seconds after which the trigger gives up (None: never); absolute, so a
        triggerer restart does not extend the wait
    :param not_before: unix seconds before which no event fires (the first query waits for it). The
        sensor sets it to its deferral + ``settle_seconds()``: Airflow 3.3.2 fails a task resumed
        before the scheduler has seen its worker's exit (see ``airflow_wecube.compat.settle``).
    """

    def __init__(
        self,
        promql: str,
        condition: str,
        prometheus_conn_id: str = "prometheus_default",
        poke_interval: float = 30.0,
        end_time: float | None = None,
        not_before: float | None = None,
    ) -> None:
        super().__init__()
        parse_condition(condition)
        self.promql = promql
        self.condition = condition
        self.prometheus_conn_id = prometheus_conn_id
        self.poke_interval = float(poke_interval)
        self.end_time = end_time
        self.not_before = not_before

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "promql": self.promql,
                "condition": self.condition,
                "prometheus_conn_id": self.prometheus_conn_id,
                "poke_interval": self.poke_interval,
                "end_time": self.end_time,
                "not_before": self.not_before,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_wecube.hooks.prometheus import PrometheusHook

        condition = parse_condition(self.condition)
        hook = PrometheusHook(prometheus_conn_id=self.prometheus_conn_id)
        last = "no answer from Prometheus yet"
        if self.not_before is not None and self.not_before > time.time():
            # the sensor polled just before deferring; an event now would race Airflow (settle.py)
            await asyncio.sleep(self.not_before - time.time())
        while True:
            try:
                series = await hook.aquery(self.promql)
            except PrometheusQueryError as exc:
                yield TriggerEvent({"status": "error", "message": str(exc)})
                return
            except PrometheusError as exc:
                last = str(exc)
                self.log.warning("%s; polling again", exc)
            else:
                result = condition.evaluate(series)
                last = result.describe()
                if result.ok:
                    yield TriggerEvent({"status": "success", "message": last, "series": jsonable_series(series)})
                    return
                self.log.info("%s: %s", self.promql, last)
            delay = self.poke_interval
            if self.end_time is not None:
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "message": f"{self.promql}: {last}"})
                    return
                delay = min(delay, remaining)
            await asyncio.sleep(delay)
