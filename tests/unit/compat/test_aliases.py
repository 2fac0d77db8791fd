"""The module paths before issue 26's regrouping still import, as the new modules, with a warning."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_wecube.compat.aliases import MOVED

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_name_is_the_new_module_and_warns(old):
    new = MOVED[old]
    if new == "airflow_wecube.deploy.celery":
        pytest.importorskip("airflow.providers.celery", reason="the `cluster` extra (Airflow's Celery provider)")
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {new}"):
        aliased = importlib.import_module(old)
    real = importlib.import_module(new)
    assert aliased is real
    # the shared module keeps its own identity: reload, pickling and tracebacks name the new home
    assert real.__spec__.name == new and real.__name__ == new


@pytest.mark.parametrize("old", sorted(MOVED))
def test_no_file_is_left_at_the_old_path(old):
    # a shim file there would hide the rename from git (the moves merge onto in-place edits)
    rel = Path(*old.split("."))
    assert not (SRC / rel).with_suffix(".py").exists()
    assert not (SRC / rel / "__init__.py").exists()


def test_from_import_and_attribute_access_of_an_old_name():
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n"
        "    from airflow_wecube import timeutil\n"
        "except DeprecationWarning as w:\n"
        "    print('warned', w)\n"
        "warnings.simplefilter('ignore')\n"
        "from airflow_wecube import timeutil\n"
        "import airflow_wecube.util.durations as d\n"
        "assert timeutil is d and timeutil.parse_duration('2m').total_seconds() == 120\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "warned airflow_wecube.timeutil moved to airflow_wecube.util.durations" in out


def test_the_warning_points_at_the_importing_line(tmp_path):
    script = tmp_path / "user_dag.py"
    script.write_text("import warnings\nwarnings.simplefilter('always')\nimport airflow_wecube.rollout\n")
    err = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stderr
    assert f"{script}:3: DeprecationWarning: airflow_wecube.rollout moved to" in err


def test_other_missing_names_still_fail():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("airflow_wecube.no_such_module")
