"""Import time per WeCube process export (goal: <= 50 ms each).

For each ``.pds`` of ../shared/fixtures/wecube-procdef: read (base64, JSON, BPMN XML over the
allow-list), validate (graph checks, every service looked up in a registry holding the eleven 2020
manifests) and store (one atomic JSON file), as ``wecube processes import`` does, minus the
interpreter start. Rounds are interleaved over the files; the median and the worst round are
reported, and the first (cold) import of each file separately.

    python bench/processes.py [--rounds 30] [--corpus ../shared/fixtures/wecube-procdef] [--dags 100]

``--dags N`` also stores N copies of the largest export (34 nodes, distinct keys) and times the DAG
factory ``dags/wecube_processes.py`` as Airflow's DAG processor parses it: a fresh interpreter that
has imported Airflow (the processor forks from a parent that has) runs ``DagBag(file)``; goal <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

GOAL_MS = 50.0
GOAL_PARSE_S = 2.0
REPO = Path(__file__).resolve().parents[1]
PARSE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
import airflow.sdk, pendulum  # what the processor's parent has imported before it forks
t = time.perf_counter()
bag = DagBag(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "dags": len(bag.dags), "errors": len(bag.import_errors),
                  "tasks": sum(len(d.tasks) for d in bag.dags.values())}))
"""


def factory_parse(store: Path, n: int, source: Path, registry, rounds: int = 5) -> list[dict]:
    """Parse times of dags/wecube_processes.py over ``n`` stored copies of ``source``."""
    from airflow_wecube.processes import ProcessStore, read_process_file, validate

    [process] = read_process_file(source)
    process = validate(process, registry)
    ProcessStore(store).save([process.model_copy(update={"key": f"bench_{i:03d}"}) for i in range(n)])
    env = {**os.environ, "WECUBE_PROCESSES_PATH": str(store)}
    out = []
    for _ in range(rounds):
        r = subprocess.run(
            [sys.executable, "-c", PARSE, str(REPO / "dags" / "wecube_processes.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        if r.returncode:
            raise SystemExit(r.stderr[-2000:])
        out.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/fixtures/wecube-procdef"))
    parser.add_argument("--dags", type=int, default=0, help="also time the DAG factory over this many processes")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    files = sorted(corpus.glob("*.pds"))
    if not files:
        print(f"no .pds files in {corpus}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    from airflow_wecube.processes import ProcessStore, read_process_file, validate
    from airflow_wecube.registry import Registry, load_manifest

    print(f"import airflow_wecube.processes: {(time.perf_counter() - t0) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp) / "registry")
        for path in sorted((corpus / "plugins").glob("*.register.xml")):
            version = re.search(r"\.(\d{4}-\d\d-\d\d)\.register\.xml$", path.name)[1]
            registry.register(load_manifest(path, version=version))

        def one(path: Path, n: int) -> tuple[float, float, float]:
            store = ProcessStore(Path(tmp) / f"store{n}")
            a = time.perf_counter()
            processes = read_process_file(path)
            b = time.perf_counter()
            checked = [validate(p, registry) for p in processes]
            c = time.perf_counter()
            store.save(checked)
            d = time.perf_counter()
            return (b - a) * 1000, (c - b) * 1000, (d - c) * 1000

        cold = {f.name: one(f, 0) for f in files}
        rounds: dict[str, list[tuple[float, float, float]]] = {f.name: [] for f in files}
        for r in range(1, args.rounds + 1):
            order = files[r % len(files) :] + files[: r % len(files)]
            for f in order:
                rounds[f.name].append(one(f, r))
        parsed = []
        if args.dags:
            biggest = max(files, key=lambda f: f.stat().st_size)
            parsed = factory_parse(Path(tmp) / "factory", args.dags, biggest, registry)

    print(f"{'file':<66} {'cold':>7} {'read':>6} {'check':>6} {'store':>6} {'median':>7} {'worst':>7}")
    worst_all = 0.0
    for f in files:
        totals = [sum(t) for t in rounds[f.name]]
        med = [statistics.median(t[i] for t in rounds[f.name]) for i in range(3)]
        worst_all = max(worst_all, statistics.median(totals))
        print(
            f"{f.name:<66} {sum(cold[f.name]):>6.1f}  {med[0]:>5.1f}  {med[1]:>5.1f}  {med[2]:>5.1f}"
            f"  {statistics.median(totals):>6.1f}  {max(totals):>6.1f}  ms"
        )
    verdict = "met" if worst_all <= GOAL_MS else "MISSED"
    print(f"goal <= {GOAL_MS:.0f} ms per file (median): {verdict} (slowest file's median {worst_all:.1f} ms)")
    ok = worst_all <= GOAL_MS
    if parsed:
        times = sorted(p["seconds"] for p in parsed)
        med = statistics.median(times)
        print(
            f"DAG factory over {args.dags} processes: {parsed[0]['dags']} DAGs, {parsed[0]['tasks']} tasks,"
            f" {parsed[0]['errors']} errors; parse {med:.2f} s median ({times[0]:.2f}-{times[-1]:.2f} s,"
            f" {len(times)} runs): goal <= {GOAL_PARSE_S:.0f} s {'met' if med <= GOAL_PARSE_S else 'MISSED'}"
        )
        ok = ok and med <= GOAL_PARSE_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
