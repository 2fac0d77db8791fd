"""Benchmark: 30 days at 15 s for 3 series into ``PrometheusHook.query_range_frame``.

Compares against the floor, a raw HTTP fetch of the very same chunks (bytes only, and bytes
plus ``json.loads``). Each measured run is a fresh subprocess so peak RSS is its own.
Run by hand (not part of the test suite)::

    .venv/bin/python bench/prometheus_range.py [--days 30] [--repeat 3]

Targets (issue 3): frame time <= 1.5x the raw fetch time; peak RSS <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STEP = 15
QUERIES = {f"s{i}": f'bench_metric{{series="{i}"}}' for i in range(3)}

CHILD = r"""
import json, resource, sys, time
mode, conn_json, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
queries = json.loads(sys.argv[5])
import os
os.environ["AIRFLOW_CONN_PROMETHEUS_BENCH"] = conn_json
t0 = time.perf_counter()
if mode == "frame":
    from airflow_wecube.hooks.prometheus import PrometheusHook
    import pandas  # imported before timing starts, like in a running worker
    hook = PrometheusHook("prometheus_bench")
    hook.settings, hook.client
    t0 = time.perf_counter()
    frame = hook.query_range_frame(queries, start, end, "15s")
    rows = len(frame)
else:
    import requests
    from airflow_wecube.prometheus.ranges import split_range
    url = json.loads(conn_json)["host"]
    session = requests.Session()
    rows = 0
    t0 = time.perf_counter()
    for promql in queries.values():
        for s, e in split_range(start * 1000, end * 1000, 15000):
            r = session.get(f"{url}/api/v1/query_range",
                            params={"query": promql, "start": s / 1000, "end": e / 1000, "step": "15"})
            r.raise_for_status()
            if mode == "raw+json":
                rows += len(json.loads(r.content)["data"]["result"][0]["values"])
            else:
                rows += len(r.content)
elapsed = time.perf_counter() - t0
print(json.dumps({"mode": mode, "seconds": elapsed, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_openmetrics(path: Path, start: int, end: int) -> int:
    n = 0
    with open(path, "w") as fh:
        fh.write("# HELP bench_metric benchmark series\n# TYPE bench_metric gauge\n")
        for i in range(3):
            lines = []
            for k, t in enumerate(range(start, end + 1, STEP)):
                lines.append(f'bench_metric{{series="{i}"}} {100 * i + (k % 5760) / 57.6:.4f} {t}\n')
            fh.writelines(lines)
            n += len(lines)
        fh.write("# EOF\n")
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from tests.fixtures.prometheus import prometheus_conn_json, start_prometheus

    work = Path(tempfile.mkdtemp(prefix="wecube-bench-prom-"))
    end = (int(time.time()) - 3 * 3600) // STEP * STEP
    start = end - args.days * 86400
    t = time.perf_counter()
    samples = write_openmetrics(work / "bench.om", start, end)
    server = start_prometheus(work / "server", openmetrics=work / "bench.om")
    print(f"backfilled {samples} samples ({args.days} d x 3 series at {STEP} s) in {time.perf_counter() - t:.1f} s")
    conn = prometheus_conn_json(server)
    env = {**os.environ, "AIRFLOW_HOME": str(work / "airflow"), "PYTHONPATH": str(REPO / "src")}
    results: dict[str, list[dict]] = {}
    try:
        for _ in range(args.repeat):
            for mode in ("raw", "raw+json", "frame"):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, conn, str(start), str(end), json.dumps(QUERIES)],
                    capture_output=True, text=True, env=env, check=True,
                ).stdout
                results.setdefault(mode, []).append(json.loads(out.strip().splitlines()[-1]))
    finally:
        server.stop()

    best = {mode: min(runs, key=lambda r: r["seconds"]) for mode, runs in results.items()}
    print(f"\n| run | best of {args.repeat} (s) | peak RSS (MB) |\n| --- | --- | --- |")
    for mode in ("raw", "raw+json", "frame"):
        print(f"| {mode} | {best[mode]['seconds']:.3f} | {best[mode]['peak_rss_mb']:.0f} |")
    ratio = best["frame"]["seconds"] / best["raw"]["seconds"]
    ratio_json = best["frame"]["seconds"] / best["raw+json"]["seconds"]
    print(f"\nframe rows: {best['frame']['rows']}; frame / raw fetch = {ratio:.2f}x; "
          f"frame / (raw fetch + json) = {ratio_json:.2f}x; target <= 1.5x, peak RSS <= 300 MB")
    return 0 if ratio <= 1.5 and best["frame"]["peak_rss_mb"] <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
