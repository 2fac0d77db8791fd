"""The README's DAG example is real code: it imports against the sandbox plugins."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_dag_example_imports(plugin_registry, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    section = README.read_text().split("## Write a DAG with it", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "readme_dag.py").write_text(code)
    bag = DagBag(str(tmp_path / "readme_dag.py"))
    assert bag.import_errors == {}
    assert [t.task_id for t in bag.dags["my_rollout"].tasks] == ["vpcs", "app", "many"]
