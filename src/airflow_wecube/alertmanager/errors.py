"""Errors of the Alertmanager integration (pure: usable without Airflow)."""

from __future__ import annotations

from airflow_wecube.exceptions import WeCubeError


class AlertmanagerError(WeCubeError):
    """Alertmanager refused a request or could not be used.

    :param status_code: HTTP status of the answer, when there was one
    """

    def __init__(self, message: str, *, status_code: int | None = None):
        self.status_code = status_code
        super().__init__(message)


class AlertmanagerUnreachableError(AlertmanagerError):
    """No answer from Alertmanager (connection refused, DNS, timeout, deadline)."""


class AlertmanagerConfigError(AlertmanagerError):
    """Bad input for a request (matcher, silence, connection); nothing was sent."""


class AlertPayloadError(WeCubeError):
    """A webhook payload that is not Alertmanager's version 4, or too large; every problem is listed.

    :param problems: one line per problem, each naming where it is (``alerts[2].labels``)
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))
