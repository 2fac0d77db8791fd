"""Benchmark WeCubePluginHook.call against plain HttpHook.run and requests.post.

Run by hand (`make bench` or `.venv/bin/python bench/plugin_call.py`); results go to bench/README.md.
Everything runs in one process against one sandbox server on loopback, so the numbers are
compared as ratios, not read as absolutes. The modes are interleaved round by round (each round
runs every mode, in a rotating order) and each ratio is the median of the per-round ratios, so a
noisy phase of the machine cannot flatter or sink one mode alone.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

N = int(os.environ.get("BENCH_N", "1000"))  # calls per mode, split over the rounds
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_wecube.sandbox",
            "--port",
            str(port),
            "--db",
            str(workdir / "s.db"),
            "--token",
            TOKEN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(url + "/health", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("sandbox did not start")


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def import_and_registry_load(workdir: Path) -> float:
    """Seconds for `import airflow_wecube` + loading 50 packages x 20 interfaces, in a fresh process."""
    from airflow_wecube.registry import Registry
    from airflow_wecube.registry.xml import load_register_xml

    reg = Registry(workdir / "big")
    for p in range(50):
        itfs = "".join(
            f"<interface action='a{i}' path='/p{p}/a{i}'><inputParameters>"
            + "".join(f"<parameter datatype='string' required='Y'>in{k}</parameter>" for k in range(5))
            + "</inputParameters><outputParameters><parameter>out</parameter></outputParameters></interface>"
            for i in range(20)
        )
        reg.register(
            load_register_xml(
                (
                    f"<package name='pkg{p}' version='1.0.{p}'><plugins><plugin name='pl'>{itfs}"
                    "</plugin></plugins></package>"
                ).encode()
            )
        )
    code = (
        "import time; t=time.perf_counter(); import airflow_wecube; from airflow_wecube.registry import Registry; "
        f"n=len(Registry({str(workdir / 'big')!r}).services()); print(time.perf_counter()-t, n)"
    )
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        assert out[1] == "1000"
        runs.append(float(out[0]))
    return statistics.median(runs)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        proc, url = start_sandbox(workdir)
        try:
            os.environ["AIRFLOW_CONN_WECUBE_DEFAULT"] = json.dumps(
                {"conn_type": "wecube", "host": url, "password": TOKEN}
            )
            os.environ["AIRFLOW_CONN_HTTP_BENCH"] = json.dumps({"conn_type": "http", "host": url})
            from airflow.providers.http.hooks.http import HttpHook

            from airflow_wecube.hooks.plugin import WeCubePluginHook
            from airflow_wecube.registry import Registry, load_manifest
            from airflow_wecube.sandbox import manifest_paths

            reg = Registry(workdir / "reg")
            for m in manifest_paths():
                reg.register(load_manifest(m))
            path = reg.service("faults/fault/echo").path
            body = {
                "requestId": "b",
                "operator": "bench",
                "serviceName": "faults/fault/echo",
                "inputs": [{"callbackParameter": "0", "message": "hi"}],
            }
            headers = {"Authorization": f"Bearer {TOKEN}"}

            hook = WeCubePluginHook(registry=reg)
            http = HttpHook(method="POST", http_conn_id="http_bench")
            # warm up all three paths
            for _ in range(20):
                hook.call("faults/fault/echo", {"message": "hi"})
                http.run(path, json=body, headers=headers)
                requests.post(url + path, json=body, headers=headers)
            modes = {
                "requests.post": lambda: requests.post(url + path, json=body, headers=headers),
                "HttpHook.run": lambda: http.run(path, json=body, headers=headers),
                "WeCubePluginHook.call": lambda: hook.call("faults/fault/echo", {"message": "hi"}),
            }
            per_round: dict[str, list[float]] = {name: [] for name in modes}
            cpu_round: dict[str, list[float]] = {name: [] for name in modes}  # this process's CPU per call
            names = list(modes)
            n = max(1, N // ROUNDS)
            for r in range(ROUNDS):
                for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate who goes first
                    cpu = time.process_time()
                    per_round[name].append(statistics.median(timed(modes[name], n)))
                    cpu_round[name].append((time.process_time() - cpu) / n)
            cpu_ratio = {
                name: statistics.median(t / b for t, b in zip(ts, cpu_round["HttpHook.run"], strict=False))
                for name, ts in cpu_round.items()
            }
            rows = {name: statistics.median(ts) for name, ts in per_round.items()}
            ratios = {
                name: statistics.median(t / b for t, b in zip(ts, per_round["HttpHook.run"], strict=False))
                for name, ts in per_round.items()
            }
            spread = {
                name: (
                    min(t / b for t, b in zip(ts, per_round["HttpHook.run"], strict=False)),
                    max(t / b for t, b in zip(ts, per_round["HttpHook.run"], strict=False)),
                )
                for name, ts in per_round.items()
            }
            many = [{"callbackParameter": str(i), "message": "hi"} for i in range(1000)]
            batched = statistics.median(timed(lambda: hook.call("faults/fault/echo", many), 5))
            singles = sum(timed(lambda: hook.call("faults/fault/echo", {"message": "hi"}), 1000))
            load = import_and_registry_load(workdir)
        finally:
            os.killpg(proc.pid, 9)

    print(
        f"per call: {ROUNDS} interleaved rounds of {max(1, N // ROUNDS)} calls per mode "
        "(loopback sandbox echo, one entity)"
    )
    print("  median of the rounds' medians; ratio = median of the per-round ratios to HttpHook.run (min-max);")
    print("  client CPU = this process's CPU time per call (the sandbox's excluded), median ratio of the rounds")
    for name, t in rows.items():
        lo, hi = spread[name]
        print(
            f"  {name:<24} {t * 1000:7.3f} ms   {ratios[name]:5.2f}x HttpHook.run ({lo:.2f}-{hi:.2f});"
            f"  client CPU {statistics.median(cpu_round[name]) * 1000:6.3f} ms, {cpu_ratio[name]:5.2f}x"
        )
    print(
        f"1,000 entities: one call {batched * 1000:.1f} ms vs 1,000 calls {singles * 1000:.0f} ms "
        f"-> {singles / batched:.1f}x faster"
    )
    print(
        f"import airflow_wecube + registry of 50 packages x 20 interfaces: {load * 1000:.0f} ms "
        "(median of 5 fresh processes)"
    )


if __name__ == "__main__":
    main()
