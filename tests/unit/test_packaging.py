"""Dependencies whose internals the code relies on are pinned to the range it is tested with."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

import airflow_wecube

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def requirement(name: str) -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == name]
    return req


@pytest.mark.parametrize(
    "name",
    [
        "apache-airflow-providers-http",  # WeCubePluginHook overrides HttpHook's private session set-up
        "urllib3",  # http_limits.py sets the pools' ConnectionCls
    ],
)
def test_relied_on_internals_are_pinned_with_an_upper_bound(name):
    req = requirement(name)
    assert any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier), f"{req} has no upper bound"
    assert req.specifier.contains(version(name)), f"installed {name} {version(name)} is outside {req}"


def test_every_module_stays_within_450_lines():
    """Small modules named for what they hold: a module past 450 lines holds more than one concept."""
    src = Path(airflow_wecube.__file__).parent
    long = {str(p.relative_to(src)): n for p in src.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"split these by concept: {long}"
