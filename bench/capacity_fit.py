"""Benchmark: capacity fit on 30 days at 15 s (3 series) from a real Prometheus.

    .venv/bin/python bench/capacity_fit.py [--days 30] [--repeat 5] [--out bench/capacity.md]

1. writes 30 days x 3 series at 15 s (cpu_percent, accounts_opened, accounts_closed) as OpenMetrics,
   backfills them with promtool and starts Prometheus (not timed);
2. in a fresh child process (so its peak RSS is the fetch + fit alone, plus imports): fetches the
   three series with ``PrometheusHook.query_range_frame`` at 15 s (172,800 points per series, split
   into 11,000-point queries), builds the dataset and fits it (``fit_model``: OLS with HAC (Newey-West)
   inference, VIF, headroom, sufficient stats and covariance; no plot), timing each;
3. times the fit alone against a bare ``numpy.linalg.lstsq`` on the same design (the floor), best of
   ``--repeat``, in the same process, and reports the ratio.

Targets (issue 6): fetch + fit <= 15 s, peak RSS <= 500 MB, fit <= 3x lstsq.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEP = 15


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(url: str, start: int, end: int, repeat: int) -> dict:
    """Runs in the child process."""
    t_import = time.perf_counter()
    import numpy as np

    from airflow_wecube.capacity.dataset import build_dataset
    from airflow_wecube.capacity.fit import fit_model
    from airflow_wecube.capacity.spec import load_spec
    from airflow_wecube.hooks.prometheus import PrometheusHook

    os.environ["AIRFLOW_CONN_PROMETHEUS_BENCH"] = json.dumps({"conn_type": "prometheus", "host": url})
    spec = load_spec(
        {
            "name": "bench_cpu",
            "target_label": "cpu%",
            "target": "cpu_percent",
            "features": {"accounts_opened": "accounts_opened", "accounts_closed": "accounts_closed"},
            "window": "30d",
            "step": f"{STEP}s",
            "limit": 80,
        }
    )
    hook = PrometheusHook(prometheus_conn_id="prometheus_bench")
    rss_after_imports = _rss_mb()
    import_s = time.perf_counter() - t_import

    t0 = time.perf_counter()
    frame = hook.query_range_frame(spec.queries(), start, end, STEP)
    t1 = time.perf_counter()
    dataset = build_dataset(frame, spec)
    fit = fit_model(dataset, spec)
    t2 = time.perf_counter()
    peak = _rss_mb()

    fit_times, lstsq_times, sm_times, iid_times = [], [], [], []
    for _ in range(repeat):
        a = time.perf_counter()
        fit_model(dataset, spec, engine="statsmodels")
        sm_times.append(time.perf_counter() - a)
        a = time.perf_counter()
        fit_model(dataset, spec)
        fit_times.append(time.perf_counter() - a)
        a = time.perf_counter()
        fit_model(dataset, spec, cov_type="nonrobust")
        iid_times.append(time.perf_counter() - a)
        X = dataset.X.to_numpy(dtype="float64")
        design = np.column_stack([np.ones(len(X)), X])
        y = dataset.y.to_numpy(dtype="float64")
        a = time.perf_counter()
        np.linalg.lstsq(design, y, rcond=None)
        lstsq_times.append(time.perf_counter() - a)
    return {
        "rows": len(frame),
        "n": fit.n,
        "formula": fit.formula,
        "r2": fit.r2,
        "cov_type": fit.inference["cov_type"],
        "hac_lags": fit.inference.get("maxlags"),
        "iid_best_s": min(iid_times),
        "import_s": import_s,
        "fetch_s": t1 - t0,
        "fit_first_s": t2 - t1,
        "fetch_fit_s": t2 - t0,
        "rss_after_imports_mb": rss_after_imports,
        "peak_rss_mb": peak,
        "fit_best_s": min(fit_times),
        "lstsq_best_s": min(lstsq_times),
        "fit_vs_lstsq": min(fit_times) / min(lstsq_times),
        "statsmodels_best_s": min(sm_times),
        "statsmodels_vs_lstsq": min(sm_times) / min(lstsq_times),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "capacity.md")
    parser.add_argument("--measure", nargs=3, metavar=("URL", "START", "END"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        url, start, end = args.measure
        print(json.dumps(measure(url, int(start), int(end), args.repeat)))
        return 0

    sys.path.insert(0, str(REPO))
    from tests.fixtures.prometheus import start_prometheus
    from tests.integration.capacity.conftest import write_openmetrics

    work = Path(tempfile.mkdtemp(prefix="wecube-bench-capacity-"))
    now = int(time.time()) // STEP * STEP
    start = now - int(args.days * 86400)
    om = work / "history.om"
    t = time.perf_counter()
    write_openmetrics(om, start, now + STEP, now)  # no drift window: one model throughout
    print(f"generated {om.stat().st_size / 1e6:.0f} MB OpenMetrics in {time.perf_counter() - t:.1f}s", flush=True)
    t = time.perf_counter()
    server = start_prometheus(work / "prom", openmetrics=om)
    print(f"backfilled and started Prometheus in {time.perf_counter() - t:.1f}s", flush=True)
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--repeat", str(args.repeat), "--measure", server.url, str(start), str(now)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        server.stop()

    ok = lambda cond: "yes" if cond else "**no**"  # noqa: E731
    statsmodels_cell = f"{r['statsmodels_best_s'] * 1000:.1f} ms ({r['statsmodels_vs_lstsq']:.1f}× lstsq)"
    table = f"""## Capacity fit (`bench/capacity_fit.py`)

{args.days:g} days at {STEP} s, 3 series (target + 2 features) from a real Prometheus 2.42
(backfilled with promtool), fetched with `PrometheusHook.query_range_frame` at {STEP} s
({r["rows"]:,} rows per series, split into 11,000-point range queries) and fitted with
`fit_model` (OLS with standard errors, 95% intervals, p-values, R², VIF, headroom, Chow statistics and
the parameter covariance; no plot). **The measured fit includes the HAC (Newey-West) standard errors**
the drift decisions use ({r["cov_type"]}, Bartlett kernel, {r["hac_lags"]} lags: the rule of thumb for
n = {r["n"]:,}, since these plain gauges have no range selector). The default engine solves the normal
equations of standardised features and gets the Bartlett-weighted score sum from one cumulative sum
(cost independent of the lag count); its numbers equal statsmodels' OLS with `cov_type="HAC"` to 1e-9
(checked by the unit tests). `engine="statsmodels"` (same HAC) is shown for comparison.
Peak RSS is the child process that imports, fetches and fits (Python + pandas + statsmodels + the
Airflow task SDK imported by the hook account for {r["rss_after_imports_mb"]:.0f} MB of it).
Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.

| measure | result | target | met |
| --- | ---: | ---: | :---: |
| fetch (3 range queries, {r["rows"]:,} points each) | {r["fetch_s"]:.2f} s | | |
| dataset + fit (first run) | {r["fit_first_s"]:.2f} s | | |
| **fetch + fit** | **{r["fetch_fit_s"]:.2f} s** | ≤ 15 s | {ok(r["fetch_fit_s"] <= 15)} |
| **peak RSS** | **{r["peak_rss_mb"]:.0f} MB** | ≤ 500 MB | {ok(r["peak_rss_mb"] <= 500)} |
| fit alone (HAC, {r["hac_lags"]} lags), best of {args.repeat} | {r["fit_best_s"] * 1000:.1f} ms | | |
| bare `numpy.linalg.lstsq`, best of {args.repeat} | {r["lstsq_best_s"] * 1000:.1f} ms | | |
| **fit / lstsq** (HAC included) | **{r["fit_vs_lstsq"]:.2f}×** | ≤ 3× | {ok(r["fit_vs_lstsq"] <= 3)} |
| fit with classical (iid) standard errors, best of {args.repeat} | {r["iid_best_s"] * 1000:.1f} ms | | |
| fit with `engine="statsmodels"` (HAC), best of {args.repeat} | {statsmodels_cell} | | |

Fitted: `{r["formula"]}` (R² {r["r2"]:.4f}, n = {r["n"]:,}).
Run: `.venv/bin/python bench/capacity_fit.py` (about a minute, most of it the promtool backfill).
"""
    args.out.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
