"""Errors of the Prometheus integration (pure: usable without Airflow)."""

from __future__ import annotations

from airflow_wecube.exceptions import WeCubeError


class PrometheusError(WeCubeError):
    """Prometheus refused a request or could not be used.

    :param status_code: HTTP status of the answer, when there was one
    :param error_type: Prometheus's ``errorType`` (``bad_data``, ``timeout``, ...), when given
    """

    def __init__(self, message: str, *, status_code: int | None = None, error_type: str | None = None):
        self.status_code = status_code
        self.error_type = error_type
        super().__init__(message)


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected a query (bad PromQL, too many points, ...): retrying will not help."""


class PrometheusNoSeriesError(PrometheusQueryError):
    """A query returned no series at all: nothing recorded in that range yet, or a selector that
    matches nothing (a typo, or a service that never ran)."""


class PrometheusUnreachableError(PrometheusError):
    """No answer from Prometheus (connection refused, DNS, timeout)."""


class PrometheusConfigError(PrometheusError):
    """Bad input for targets or rules (job name, target, label, rule), or a missing folder; nothing was written."""


class PrometheusRuleError(PrometheusError):
    """promtool refused a rule group or Prometheus did not load it; the live rule file is unchanged.

    :param output: promtool's (or Prometheus's) own message
    """

    def __init__(self, message: str, *, output: str = ""):
        self.output = output
        super().__init__(message)
