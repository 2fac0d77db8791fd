"""docs/closed-loop.md's runbook example is real code: it parses, and it is scheduled on the alert's Asset."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "closed-loop.md"


def test_runbook_example_parses_and_schedules_on_the_alert_asset(tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    from airflow_wecube.alertmanager.assets import alert_asset

    section = DOC.read_text().split("## A runbook DAG", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "runbook.py").write_text(code)
    bag = DagBag(str(tmp_path / "runbook.py"))
    assert bag.import_errors == {}
    dag = bag.dags["restart_account_service"]
    assert list(dag.timetable.asset_condition.objects) == [alert_asset("AccountServiceDown")]
    assert "runbook" in dag.tags


def test_hook_example_compiles():
    section = DOC.read_text().split("## Talking to Alertmanager from a task", 1)[1]
    compile(re.search(r"```python\n(.*?)```", section, re.S).group(1), "closed-loop.md", "exec")
