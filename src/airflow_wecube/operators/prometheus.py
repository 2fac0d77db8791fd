"""Operators registering targets and alert rules with Prometheus, the open-monitor way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def _targets(value: Any) -> list[str]:
    """A rendered ``targets`` value: a list, or one string with comma-separated targets."""
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return list(value)


class _PrometheusOperator(BaseOperator):
    ui_color = "#e6522c"

    def __init__(self, *, prometheus_conn_id: str = "prometheus_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prometheus_conn_id = prometheus_conn_id

    @property
    def hook(self):
        from airflow_wecube.hooks.prometheus import PrometheusHook

        return PrometheusHook(prometheus_conn_id=self.prometheus_conn_id)


class PrometheusRegisterTargetsOperator(_PrometheusOperator):
    """Add targets to a job's file_sd file and wait until Prometheus lists them.

    Idempotent (a rerun changes nothing) and safe in parallel (file lock), so it maps well:
    ``PrometheusRegisterTargetsOperator.partial(job="app").expand(targets=[...])``.

    :param job: the Prometheus job (one file ``<file_sd_dir>/<job>.json``; templated)
    :param targets: ``host:port`` list or comma-separated string (templated)
    :param labels: extra labels for these targets (templated)
    :param confirm_timeout: seconds to wait for ``/api/v1/targets`` to list them; 0 skips the check
    :return: (XCom) the targets that were added or relabelled
    """

    template_fields: Sequence[str] = ("job", "targets", "labels")

    def __init__(
        self,
        *,
        job: str,
        targets: str | Sequence[str],
        labels: Mapping[str, str] | None = None,
        confirm_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.targets = targets
        self.labels = labels
        self.confirm_timeout = confirm_timeout

    def execute(self, context: Context) -> list[str]:
        return self.hook.register_targets(
            self.job,
            _targets(self.targets),
            dict(self.labels) if self.labels else None,
            confirm=self.confirm_timeout > 0,
            timeout=self.confirm_timeout,
        )


class PrometheusDeregisterTargetsOperator(_PrometheusOperator):
    """Remove targets from a job's file_sd file and wait until Prometheus drops them.

    :param job: the Prometheus job (templated)
    :param targets: ``host:port`` list or comma-separated string (templated)
    :param confirm_timeout: seconds to wait for ``/api/v1/targets`` to drop them; 0 skips the check
    :return: (XCom) the targets that were removed
    """

    template_fields: Sequence[str] = ("job", "targets")

    def __init__(self, *, job: str, targets: str | Sequence[str], confirm_timeout: float = 60.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.targets = targets
        self.confirm_timeout = confirm_timeout

    def execute(self, context: Context) -> list[str]:
        return self.hook.deregister_targets(
            self.job, _targets(self.targets), confirm=self.confirm_timeout > 0, timeout=self.confirm_timeout
        )


class PrometheusAlertRuleOperator(_PrometheusOperator):
    """Write a rule group (alerting or recording rules), check it with promtool, reload, confirm.

    An invalid rule fails the task with promtool's message and leaves the live file as it was.

    :param group: rule group name, also the file name ``<rules_dir>/<group>.yml`` (templated)
    :param rules: dicts with ``alert`` or ``record``, ``expr``, ``for``, ``labels``,
        ``annotations`` (templated)
    :param interval: evaluation interval of the group (default: Prometheus's global one)
    :param delete: remove the group instead of writing it (teardown)
    :return: (XCom) ``{"group": name, "rules": [rule names]}`` (``rules`` empty when deleted)
    """

    template_fields: Sequence[str] = ("group", "rules", "interval")
    template_fields_renderers = {"rules": "json"}

    def __init__(
        self,
        *,
        group: str,
        rules: Sequence[Mapping[str, Any]] | None = None,
        interval: str | None = None,
        delete: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not delete and rules is None:
            raise ValueError("rules are required unless delete=True")
        self.group = group
        self.rules = rules
        self.interval = interval
        self.delete = delete

    def execute(self, context: Context) -> dict[str, Any]:
        if self.delete:
            existed = self.hook.delete_rule_group(self.group)
            self.log.info("rule group %s %s", self.group, "removed" if existed else "was not there")
            return {"group": self.group, "rules": []}
        loaded = self.hook.apply_rule_group(self.group, self.rules, interval=self.interval)
        return {"group": self.group, "rules": [r.get("name") for r in loaded.get("rules", [])]}
