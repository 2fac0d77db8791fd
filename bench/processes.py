"""Import time per WeCube process export (goal: <= 50 ms each).

For each ``.pds`` of ../shared/fixtures/wecube-procdef: read (base64, JSON, BPMN XML over the
allow-list), validate (graph checks, every service looked up in a registry holding the eleven 2020
manifests) and store (one atomic JSON file), as ``wecube processes import`` does, minus the
interpreter start. Rounds are interleaved over the files; the median and the worst round are
reported, and the first (cold) import of each file separately.

    python bench/processes.py [--rounds 30] [--corpus ../shared/fixtures/wecube-procdef]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

GOAL_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/fixtures/wecube-procdef"))
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
    return 0 if worst_all <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
