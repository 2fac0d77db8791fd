"""``airflow_wecube.processes`` stays free of Airflow: the DAG factory reads it at parse time."""

from __future__ import annotations

import airflow_wecube.processes as processes
from tests.unit.test_no_airflow import _assert_imports_without_airflow, _modules


def test_processes_import_without_airflow():
    modules = [processes.__name__, *_modules(processes)]
    assert len(modules) > 10, modules
    assert _assert_imports_without_airflow(modules).startswith("ok")
