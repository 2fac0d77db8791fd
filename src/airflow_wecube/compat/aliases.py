"""Old import paths of the modules regrouped into packages (issue 26), kept working for one release.

``airflow_wecube/__init__.py`` installs :class:`AliasFinder` at the end of ``sys.meta_path``: importing
an old name gives the module at its new home (the same module object, so patches and ``isinstance``
agree) and warns with a :class:`DeprecationWarning` naming the new path. No file is left at the old
paths. Remove an entry (and, once empty, this module) in the release after 0.2.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: old module name -> its new home
MOVED: dict[str, str] = {
    "airflow_wecube.airflow_api": "airflow_wecube.util.airflow_api",
    "airflow_wecube.alerts": "airflow_wecube.alertmanager.assets",
    "airflow_wecube.callback": "airflow_wecube.callbacks.tokens",
    "airflow_wecube.callback_entities": "airflow_wecube.callbacks.entities",
    "airflow_wecube.callback_store": "airflow_wecube.callbacks.store",
    "airflow_wecube.celery_config": "airflow_wecube.deploy.celery",
    "airflow_wecube.files": "airflow_wecube.util.files",
    "airflow_wecube.hostname": "airflow_wecube.deploy.hostname",
    "airflow_wecube.http_limits": "airflow_wecube.util.http_limits",
    "airflow_wecube.network_design": "airflow_wecube.designs.network",
    "airflow_wecube.orchestration": "airflow_wecube.orchestrations.failures",
    "airflow_wecube.platform_inputs": "airflow_wecube.protocol.platform_inputs",
    "airflow_wecube.prometheus.timeutil": "airflow_wecube.prometheus.times",
    "airflow_wecube.remediation.runs": "airflow_wecube.orchestrations.runbook_tasks",
    "airflow_wecube.request_ids": "airflow_wecube.protocol.request_ids",
    "airflow_wecube.rest": "airflow_wecube.protocol.rest",
    "airflow_wecube.rollout": "airflow_wecube.orchestrations.rollout",
    "airflow_wecube.runbooks": "airflow_wecube.orchestrations.runbooks",
    "airflow_wecube.timeutil": "airflow_wecube.util.durations",
    "airflow_wecube.triggers.settle": "airflow_wecube.compat.settle",
    "airflow_wecube.ui.alerts": "airflow_wecube.ui.alert_webhook",
    "airflow_wecube.ui.hitl_settle": "airflow_wecube.compat.hitl_settle",
    "airflow_wecube.ui.plugin": "airflow_wecube.ui.airflow_plugin",
    "airflow_wecube.validation": "airflow_wecube.protocol.validation",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new
        self._module: ModuleType | None = None

    def create_module(self, spec):
        warnings.warn(
            f"{spec.name} moved to {self.new}; the old name will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,  # past importlib's frames, which warnings skips: the importing line
        )
        self._module = importlib.import_module(self.new)
        self._spec = self._module.__spec__
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        # importlib set the alias's spec on the shared module object: give it back its own
        module.__spec__ = self._spec


class AliasFinder(importlib.abc.MetaPathFinder):
    """Finds the old names of :data:`MOVED` (only those) and loads them from their new homes."""

    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Put the finder at the end of ``sys.meta_path`` once (the real modules are always found first)."""
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(AliasFinder())
