"""Benchmark: 30 days at 15 s for 3 series into ``PrometheusHook.query_range_frame``.

Compares against the floor: a raw HTTP fetch of the very same chunks (same URLs: the hook's
exact start/end/step strings; same ``requests`` defaults, so the same gzip encoding), bytes only,
with 1, 2 and 4 requests in flight; the floor is the fastest of those. ``raw+json`` adds a
``json.loads`` per chunk (for reference). Each measured run is a fresh subprocess so peak RSS is
its own; modes are interleaved round by round and the best of ``--repeat`` rounds is kept.
Run by hand (not part of the test suite)::

    .venv/bin/python bench/prometheus_range.py [--days 30] [--repeat 3] [--workdir DIR] [--workers 1,2,4]

``--workdir`` keeps the backfilled TSDB (the backfill takes 1-2 min) and reuses it next time.
``WECUBE_BENCH_SRC=/path/to/src`` measures another checkout of the package (e.g. an older hook).

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
queries, workers = json.loads(sys.argv[5]), int(sys.argv[6])
import os
os.environ["AIRFLOW_CONN_PROMETHEUS_BENCH"] = conn_json
if mode == "frame":
    from airflow_wecube.hooks.prometheus import PrometheusHook
    import numpy, pandas  # imported before timing starts, like in a running worker
    hook = PrometheusHook("prometheus_bench")
    hook.settings, hook._session
    hook.range_concurrency = workers
    t0 = time.perf_counter()
    frame = hook.query_range_frame(queries, start, end, "15s")
    rows = len(frame)
else:
    # the floor: the very same chunks (same start/end/step strings as the hook sends), bytes only
    # (or bytes + json.loads), on a plain requests session, with ``workers`` requests in flight
    from concurrent.futures import ThreadPoolExecutor
    import requests
    from airflow_wecube.prometheus.ranges import split_range
    from airflow_wecube.prometheus.times import format_ms
    url = json.loads(conn_json)["host"]
    session = requests.Session()
    tasks = [(promql, s, e) for promql in queries.values() for s, e in split_range(start * 1000, end * 1000, 15000)]
    def fetch(task):
        promql, s, e = task
        r = session.get(f"{url}/api/v1/query_range",
                        params={"query": promql, "start": format_ms(s), "end": format_ms(e), "step": "15.000"})
        r.raise_for_status()
        if mode == "raw+json":
            return len(json.loads(r.content)["data"]["result"][0]["values"])
        return len(r.content)
    t0 = time.perf_counter()
    if workers <= 1:
        rows = sum(map(fetch, tasks))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = sum(pool.map(fetch, tasks))
elapsed = time.perf_counter() - t0
print(json.dumps({"mode": mode, "workers": workers, "seconds": elapsed, "rows": rows,
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


def prepare(workdir: Path | None, days: int):
    """Backfill (or reuse) the benchmark's TSDB; returns (server, start, end, workdir).

    With ``--workdir`` the folder is kept: a later run with the same ``--days`` reuses the
    backfilled TSDB (``bench.json`` records its start and end) and skips the ~2 min backfill.
    """
    from tests.fixtures.prometheus import start_prometheus

    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="wecube-bench-prom-"))
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "bench.json"
    meta = json.loads(stamp.read_text()) if stamp.exists() else {}
    if meta.get("days") == days and (work / "server" / "data").is_dir():
        start, end = meta["start"], meta["end"]
        server = start_prometheus(work / "server")
        print(f"reusing the TSDB in {work} ({days} d x 3 series at {STEP} s)")
        return server, start, end, work
    end = (int(time.time()) - 3 * 3600) // STEP * STEP
    start = end - days * 86400
    t = time.perf_counter()
    samples = write_openmetrics(work / "bench.om", start, end)
    if (work / "server").exists():
        import shutil

        shutil.rmtree(work / "server")
    server = start_prometheus(work / "server", openmetrics=work / "bench.om")
    (work / "bench.om").unlink()
    stamp.write_text(json.dumps({"days": days, "start": start, "end": end}))
    print(f"backfilled {samples} samples ({days} d x 3 series at {STEP} s) in {time.perf_counter() - t:.1f} s")
    return server, start, end, work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the backfilled TSDB here and reuse it on the next run (same --days)",
    )
    parser.add_argument(
        "--workers", default="1,2,4", help="comma-separated requests in flight to measure, for the floor and the hook"
    )
    parser.add_argument(
        "--hook-workers",
        type=int,
        default=None,
        help="only measure the hook at this concurrency (default: its range_concurrency)",
    )
    args = parser.parse_args()
    workers = sorted({int(w) for w in args.workers.split(",")})

    from airflow_wecube.hooks.prometheus import PrometheusHook
    from tests.fixtures.prometheus import prometheus_conn_json

    hook_workers = args.hook_workers or PrometheusHook.range_concurrency
    server, start, end, work = prepare(args.workdir, args.days)
    conn = prometheus_conn_json(server)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(work / "airflow"),
        "PYTHONPATH": os.environ.get("WECUBE_BENCH_SRC", str(REPO / "src")),
    }
    runs = [("raw", w) for w in workers] + [("raw+json", w) for w in workers]
    runs += [("frame", w) for w in sorted(set(workers) | {hook_workers})]
    results: dict[tuple[str, int], list[dict]] = {}
    loads = []
    try:
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            for mode, w in runs:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, conn, str(start), str(end), json.dumps(QUERIES), str(w)],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                ).stdout
                results.setdefault((mode, w), []).append(json.loads(out.strip().splitlines()[-1]))
    finally:
        server.stop()
        if args.workdir is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)

    best = {key: min(r, key=lambda r: r["seconds"]) for key, r in results.items()}
    print(f"\n| run | in flight | best of {args.repeat} (s) | peak RSS (MB) |\n| --- | --- | --- | --- |")
    for mode, w in runs:
        b = best[(mode, w)]
        print(f"| {mode} | {w} | {b['seconds']:.3f} | {b['peak_rss_mb']:.0f} |")
    # the floor is the fastest raw fetch of the same chunks at any concurrency measured
    floor_key = min((k for k in best if k[0] == "raw"), key=lambda k: best[k]["seconds"])
    frame = best[("frame", hook_workers)]
    ratio = frame["seconds"] / best[floor_key]["seconds"]
    print(f"\nload average (1 min) at each round: {', '.join(f'{x:.2f}' for x in loads)}")
    print(
        f"frame rows: {frame['rows']}; floor = raw fetch with {floor_key[1]} in flight "
        f"({best[floor_key]['seconds']:.3f} s); frame ({hook_workers} in flight) / floor = {ratio:.2f}x, "
        f"peak RSS {frame['peak_rss_mb']:.0f} MB; target <= 1.5x, peak RSS <= 300 MB"
    )
    return 0 if ratio <= 1.5 and frame["peak_rss_mb"] <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
