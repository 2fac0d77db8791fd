"""PromQL gate: wait until what Prometheus sees satisfies a condition."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_wecube.prometheus.conditions import jsonable_series, parse_condition
from airflow_wecube.prometheus.errors import PrometheusError, PrometheusQueryError

if TYPE_CHECKING:
    from airflow.sdk import Context


class PrometheusQuerySensor(BaseSensorOperator):
    """Wait until the result of ``promql`` satisfies ``condition``.

    The condition is ``[all|any] OP NUMBER`` or ``count OP N``, joined with ``and``: ``"== 1"``
    (every series is 1, at least one series), ``"< 0.01"``, ``"any > 0"``, ``"count >= 3"``,
    ``"all == 1 and count >= 2"``. Each poke logs the last values and the series that fail.
    Bad PromQL fails the task at once (waiting cannot fix it); an unreachable Prometheus is
    polled again until ``timeout``, and the timeout names what the last poke saw (the condition
    not met, or Prometheus unreachable), so the failure says why. Pushes the final series
    (labels, value) to XCom.

    :param promql: the PromQL expression (templated)
    :param condition: when the gate opens (templated)
    :param prometheus_conn_id: the ``prometheus`` connection
    :param deferrable: wait in the triggerer instead of a worker slot; default: Airflow's
        ``[operators] default_deferrable`` (False unless set), as the providers' sensors do
    """

    template_fields: Sequence[str] = ("promql", "condition")
    ui_color = "#e6522c"

    def __init__(
        self,
        *,
        promql: str,
        condition: str,
        prometheus_conn_id: str = "prometheus_default",
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(promql, str) or not promql.strip():
            raise ValueError(f"promql must be a non-empty string, got {promql!r}")
        if not (isinstance(condition, str) and "{{" in condition):
            parse_condition(condition)  # a bad condition fails at DAG parse, not at run time
        self.promql = promql
        self.condition = condition
        self.prometheus_conn_id = prometheus_conn_id
        if deferrable is None:
            # read when the task is made, not when this module is imported (the providers read it in
            # the signature), so a DAG parsed under another config follows that config
            from airflow.sdk import conf

            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        self.deferrable = bool(deferrable)

    def _hook(self):
        from airflow_wecube.hooks.prometheus import PrometheusHook

        return PrometheusHook(prometheus_conn_id=self.prometheus_conn_id)

    def poke(self, context: Context) -> PokeReturnValue | bool:
        condition = parse_condition(self.condition)
        try:
            series = self._hook().query(self.promql)
        except PrometheusQueryError:
            raise
        except PrometheusError as exc:
            self.log.warning("%s; will poke again", exc)
            self._last_poke = str(exc)
            return False
        result = condition.evaluate(series)
        self._last_poke = result.describe()
        for s in series[:20]:
            self.log.info("  %s = %s", _name(s), s.get("value"))
        if len(series) > 20:
            self.log.info("  ... %d series in all", len(series))
        self.log.info("%s: %s", self.promql, result.describe())
        return PokeReturnValue(is_done=result.ok, xcom_value=jsonable_series(series) if result.ok else None)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            self._last_poke = None
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                if not self._last_poke:
                    raise
                raise AirflowSensorTimeout(f"{exc} {self.promql}: last poke: {self._last_poke}") from None
        first = self.poke(context)
        if first:
            return first.xcom_value if isinstance(first, PokeReturnValue) else None
        from airflow_wecube.compat.settle import settle_seconds
        from airflow_wecube.triggers.prometheus import PrometheusQueryTrigger

        settle = settle_seconds()
        self.defer(
            trigger=PrometheusQueryTrigger(
                promql=self.promql,
                condition=self.condition,
                prometheus_conn_id=self.prometheus_conn_id,
                poke_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                # no event sooner than Airflow 3.3.2 needs to see this worker exit (triggers/settle.py)
                not_before=time.time() + settle,
            ),
            method_name="execute_complete",
            # the scheduler's own timeout resumes the task too: never before the settle time either
            timeout=timedelta(seconds=max(self.timeout, settle)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: return the series, or time out / fail with its message."""
        event = event or {}
        status = event.get("status")
        message = event.get("message", "")
        if status == "success":
            self.log.info("%s: %s", self.promql, message)
            return event.get("series")
        if status == "timeout":
            text = f"Sensor has timed out after {self.timeout}s: {message}"
            if self.soft_fail:
                raise AirflowSkipException(text)
            raise AirflowSensorTimeout(text)
        raise PrometheusQueryError(message or f"unexpected trigger event {event!r}")


def _name(series: dict) -> str:
    from airflow_wecube.prometheus.results import series_name

    return series_name(series.get("labels") or {})
