"""The package's layering (.importlinter): pure packages below the Airflow glue, the protocol below the
hooks below the operators, every package placed, and no import cycle between siblings.

Beside tests/unit/test_no_airflow.py, which proves the pure packages import without Airflow.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / ".importlinter"


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    return subprocess.run([exe, "--no-cache", str(config)], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_the_layers_hold_and_nothing_cycles():
    proc = lint_imports(CONTRACTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken." in proc.stdout


def test_a_reversed_layer_is_caught(tmp_path):
    """The contract bites: with the hooks put below the protocol, the protocol's own imports break it."""
    text = CONTRACTS.read_text()
    assert text.count("\n    hooks\n") == 1 and text.count("\n    protocol\n") == 1
    swapped = text.replace("\n    hooks\n", "\n    @\n").replace("\n    protocol\n", "\n    hooks\n")
    config = tmp_path / "swapped.ini"
    config.write_text(swapped.replace("\n    @\n", "\n    protocol\n"))
    proc = lint_imports(config)
    assert proc.returncode != 0
    assert "airflow_wecube.hooks is not allowed to import airflow_wecube.protocol" in proc.stdout
