"""The pure packages must stay free of Airflow: fast to import and reusable outside it.

``registry``, ``approvals``, ``capacity``, ``prometheus``, ``alertmanager``, ``remediation``,
``protocol``, ``callbacks``, ``util``, ``datamodel`` and ``processes`` (every submodule, those of
subpackages too, listed from the folder, so a new one is covered without editing this test) are
imported in a fresh interpreter, and then no ``airflow`` module may be loaded. ``capacity.airflow``
and ``remediation.airflow`` are included on purpose: they wire their package to Airflow but import
Airflow only inside their functions. The layering of all packages: tests/unit/test_import_layers.py.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_wecube.alertmanager as alertmanager
import airflow_wecube.approvals as approvals
import airflow_wecube.callbacks as callbacks
import airflow_wecube.capacity as capacity
import airflow_wecube.datamodel as datamodel
import airflow_wecube.designs as designs
import airflow_wecube.processes as processes
import airflow_wecube.prometheus as prometheus
import airflow_wecube.protocol as protocol
import airflow_wecube.reconcile as reconcile
import airflow_wecube.registry as registry
import airflow_wecube.remediation as remediation
import airflow_wecube.util as util

PURE = {
    "registry": registry,
    "approvals": approvals,
    "capacity": capacity,
    "prometheus": prometheus,
    "alertmanager": alertmanager,
    "remediation": remediation,
    "protocol": protocol,
    "callbacks": callbacks,
    "util": util,
    "datamodel": datamodel,  # issue 21's home: the expression grammar and its evaluation stay pure
    "processes": processes,  # issue 22's home: parsing, validating and storing processes stay pure
    "reconcile": reconcile,
    "designs": designs,
}


def _modules(package) -> list[str]:
    """Every submodule, those of subpackages too (``registry.openapi.refs``)."""
    return [m.name for m in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")]


def _assert_imports_without_airflow(modules: list[str], extra: str = "") -> str:
    code = (
        "import sys\n"
        f"for name in {modules!r}:\n"
        "    __import__(name)\n"
        f"{extra}"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
        "print('ok', len(sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("name", sorted(PURE))
def test_pure_package_imports_without_airflow(name):
    modules = [PURE[name].__name__, *_modules(PURE[name])]
    files = list(Path(PURE[name].__file__).parent.rglob("*.py"))
    assert len(modules) == len(files), (modules, files)  # the walk found every submodule
    assert _assert_imports_without_airflow(modules).startswith("ok")


def test_capacity_walk_includes_its_airflow_wiring_and_plots_without_airflow():
    modules = _modules(capacity)
    assert {
        "airflow_wecube.capacity.fit",
        "airflow_wecube.capacity.store",
        "airflow_wecube.capacity.plot",
        "airflow_wecube.capacity.drift_text",
        "airflow_wecube.capacity.airflow",
    } <= set(modules)
    extra = (
        "import airflow_wecube.capacity.plot as p, pandas as pd\n"
        "idx = pd.date_range('2025-01-01', periods=3, freq='1min', tz='UTC')\n"
        "p.render_png(pd.Series([1.0, 2, 3], index=idx), pd.Series([1.0, 2, 3], index=idx), title='t')\n"
    )
    assert _assert_imports_without_airflow(modules, extra).startswith("ok")


def test_orchestration_logic_imports_without_airflow():
    """The DAGs' library logic (design checks, rollout steps) is usable and testable without Airflow."""
    modules = ["airflow_wecube.designs.network", "airflow_wecube.orchestrations.rollout"]
    modules += [f"airflow_wecube.orchestrations.{m}" for m in ("rollback", "rollout_lock", "rollout_params")]
    modules += ["airflow_wecube.orchestrations.rollout_steps", "airflow_wecube.orchestrations.rollout_failure"]
    extra = (
        "from airflow_wecube.orchestrations.rollback import touched_hosts\n"
        "assert touched_hosts({'outputs': [{'callbackParameter': 'h', 'changed': 'Y'}]}, []) == ['h']\n"
    )
    assert _assert_imports_without_airflow(modules, extra).startswith("ok")


def test_async_protocol_logic_imports_without_airflow():
    """Platform-filled inputs and the callback half of the protocol are pure too."""
    modules = ["airflow_wecube.protocol.platform_inputs", "airflow_wecube.callbacks.tokens"]
    extra = (
        "from airflow_wecube.callbacks.tokens import parse_callback, chosen_option\n"
        "assert chosen_option(parse_callback({'resultCode': 'Approve'})) == 'Approve'\n"
    )
    assert _assert_imports_without_airflow(modules, extra).startswith("ok")
