"""The capacity package must stay free of Airflow: fast to import and reusable outside it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import airflow_wecube.capacity as capacity


def test_capacity_imports_without_airflow():
    modules = [f"airflow_wecube.capacity.{m.name}" for m in pkgutil.iter_modules(capacity.__path__)]
    assert {"airflow_wecube.capacity.fit", "airflow_wecube.capacity.store", "airflow_wecube.capacity.plot"} <= set(modules)
    code = (
        "import sys\n"
        f"for name in {modules!r}:\n"
        "    __import__(name)\n"
        "import airflow_wecube.capacity.plot as p, pandas as pd\n"
        "idx = pd.date_range('2025-01-01', periods=3, freq='1min', tz='UTC')\n"
        "p.render_png(pd.Series([1.0, 2, 3], index=idx), pd.Series([1.0, 2, 3], index=idx), title='t')\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "assert not bad, bad\n"
        "print('ok', len(sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
