"""The pure packages must stay free of Airflow: fast to import and reusable outside it.

``registry``, ``approvals``, ``capacity``, ``prometheus``, ``alertmanager`` and ``remediation``
(every submodule, those of subpackages too, listed from the folder, so a new one is covered without
editing this test) are imported in a fresh interpreter, and then no ``airflow`` module may be
loaded. ``capacity.airflow`` and ``remediation.airflow`` are included on purpose: they wire their
package to Airflow but import Airflow only inside their functions.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import airflow_wecube.alertmanager as alertmanager
import airflow_wecube.approvals as approvals
import airflow_wecube.capacity as capacity
import airflow_wecube.prometheus as prometheus
import airflow_wecube.reconcile as reconcile
import airflow_wecube.registry as registry
import airflow_wecube.remediation as remediation

PURE = {
    "registry": registry,
    "approvals": approvals,
    "capacity": capacity,
    "prometheus": prometheus,
    "alertmanager": alertmanager,
    "remediation": remediation,
    "reconcile": reconcile,
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
    assert len(modules) > 2, modules  # the walk found the submodules
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
    modules = ["airflow_wecube.network_design", "airflow_wecube.rollout"]
    extra = (
        "from airflow_wecube.rollout import rollout_plan, touched_hosts\n"
        "assert touched_hosts({'outputs': [{'callbackParameter': 'h', 'changed': 'Y'}]}, []) == ['h']\n"
    )
    assert _assert_imports_without_airflow(modules, extra).startswith("ok")


def test_async_protocol_logic_imports_without_airflow():
    """Platform-filled inputs and the callback half of the protocol are pure too."""
    modules = ["airflow_wecube.platform_inputs", "airflow_wecube.callback"]
    extra = (
        "from airflow_wecube.callback import parse_callback, chosen_option\n"
        "assert chosen_option(parse_callback({'resultCode': 'Approve'})) == 'Approve'\n"
    )
    assert _assert_imports_without_airflow(modules, extra).startswith("ok")
