"""Benchmark REST services registered from an OpenAPI document.

1. Per-call overhead of ``WeCubePluginHook.call`` on a REST service against a bare ``HttpHook.run``
   to the same endpoint of the sandbox on loopback (its FastAPI ``/openapi.json`` registered):
   modes interleaved round by round, median per round, median of the rounds, shown as ratios.
2. Registration time (``load_manifest`` + ``Registry.register``) of a generated document with
   2,000 operations (JSON and YAML) and of Airflow's own REST API document.

Run by hand (``.venv/bin/python bench/openapi_call.py``); results go to bench/README.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from plugin_call import TOKEN, start_sandbox  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
PER_ROUND = int(os.environ.get("BENCH_N", "200"))


def per_call(fn, n: int) -> tuple[float, float]:
    """(median wall seconds per call, client CPU seconds per call): the server is another process,
    so CPU time is the client's own overhead, much less disturbed by a busy machine than wall time."""
    times = []
    cpu = time.process_time()
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), (time.process_time() - cpu) / n


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def big_document(operations: int = 2000) -> dict:
    """A document shaped like real ones: tags, path parameters, a shared body schema by $ref, query params."""
    paths = {}
    for i in range(operations // 2):
        pid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        paths[f"/resource{i}/{{id}}"] = {
            "get": {
                "operationId": f"get{i}",
                "tags": [f"group{i % 20}"],
                "parameters": [pid, {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 20}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                    }
                },
            },
            "put": {
                "operationId": f"put{i}",
                "tags": [f"group{i % 20}"],
                "parameters": [pid],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
                    }
                },
            },
        }
    item = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "size": {"type": "integer", "minimum": 0},
            "state": {"type": "string", "enum": ["new", "done"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "owner": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "email": {"type": "string", "format": "email"}},
            },
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "big", "version": "1.0.0"},
        "paths": paths,
        "components": {"schemas": {"Item": item}},
    }


def registration(path: Path, workdir: Path, package: str, runs: int = 5) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of load_manifest + Registry.register."""
    from airflow_wecube.registry import Registry, load_manifest

    times, cpus = [], []
    for r in range(runs):
        t, c = time.perf_counter(), time.process_time()
        pkg = load_manifest(path, package=package)
        Registry(workdir / f"reg-{path.name}-{r}").register(pkg)
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpus)


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

            doc = workdir / "sandbox.json"
            doc.write_text(requests.get(url + "/openapi.json", timeout=10).text)
            reg = Registry(workdir / "reg")
            reg.register(load_manifest(doc, package="sandbox", version="1.0.0"))
            hook = WeCubePluginHook(registry=reg)
            get = HttpHook(method="GET", http_conn_id="http_bench")
            auth = {"Authorization": f"Bearer {TOKEN}"}
            modes = {
                "HttpHook.run GET /health": lambda: get.run("/health"),
                "REST service health": lambda: hook.call("sandbox/sandbox/health_health_get", {}),
                "HttpHook.run GET /sandbox/calls?request_id=": lambda: get.run(
                    "/sandbox/calls", data={"request_id": "none"}, headers=auth
                ),
                "REST service calls (query validated)": lambda: hook.call(
                    "sandbox/sandbox/calls_sandbox_calls_get", {"request_id": "none"}
                ),
            }
            for fn in modes.values():  # warm up
                for _ in range(20):
                    fn()
            rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in modes}
            for _ in range(ROUNDS):
                for name, fn in modes.items():
                    rounds[name].append(per_call(fn, PER_ROUND))
        finally:
            os.killpg(proc.pid, 9)

        big = big_document()
        (workdir / "big.json").write_text(json.dumps(big))
        (workdir / "big.yaml").write_text(yaml.dump(big, Dumper=_NoAliases, sort_keys=False))
        spec = importlib.util.find_spec("airflow")
        airflow_doc = (
            Path(next(iter(spec.submodule_search_locations)))
            / "api_fastapi/core_api/openapi/v2-rest-api-generated.yaml"
        )
        reg_times = {
            f"2,000 operations, JSON ({(workdir / 'big.json').stat().st_size // 1024} KiB)": registration(
                workdir / "big.json", workdir, "big"
            ),
            f"2,000 operations, YAML ({(workdir / 'big.yaml').stat().st_size // 1024} KiB)": registration(
                workdir / "big.yaml", workdir, "big"
            ),
            f"Airflow REST API, YAML, 128 operations ({airflow_doc.stat().st_size // 1024} KiB)": registration(
                airflow_doc, workdir, "airflow"
            ),
        }

    names = list(modes)
    print(
        f"per call: median of {PER_ROUND} calls per round, {ROUNDS} interleaved rounds (load {os.getloadavg()[0]:.1f})"
    )
    for base, rest in ((names[0], names[1]), (names[2], names[3])):
        for i, what in ((0, "wall"), (1, "client CPU")):
            b = statistics.median(r[i] for r in rounds[base])
            x = statistics.median(r[i] for r in rounds[rest])
            ratios = [rr[i] / bb[i] for rr, bb in zip(rounds[rest], rounds[base], strict=False)]
            print(
                f"  {what:<10} {base:<46} {b * 1000:7.3f} ms | {rest:<38} {x * 1000:7.3f} ms | "
                f"{x / b:.2f}x (per-round {min(ratios):.2f}-{max(ratios):.2f}, median {statistics.median(ratios):.2f})"
            )
    print("registration (load_manifest + Registry.register), median of 5:")
    for name, (wall, cpu) in reg_times.items():
        print(f"  {name:<52} wall {wall:5.2f} s   CPU {cpu:5.2f} s")


if __name__ == "__main__":
    main()
