"""Benchmark the reconcile: 50 drifts of mixed kinds, injected through the plugins' own interfaces,
converged by one run. Reports the run's time and its plugin calls (the goal: one batched call per
kind and action, not one per item), and checks that a second comparison finds nothing.

Run by hand: ``.venv/bin/python bench/reconcile.py``; results go to bench/README.md. It starts its
own sandbox on loopback with a throwaway registry and database.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from plugin_call import TOKEN, start_sandbox  # noqa: E402

ZONES = [f"z{i}" for i in range(4)]
TIERS = ["web", "app", "db"]  # 12 subnets
VPC = "vpc-bench"
HOSTS = 6


def design() -> dict:
    return {
        "data_center": "dc-bench",
        "vpc": {"name": VPC, "cidr": "10.80.0.0/16"},
        "zones": ZONES,
        "subnets": [{"tier": t, "prefix_length": 24} for t in TIERS] + [{"tier": "hosts", "prefix_length": 24}],
        "route_tables": [
            {"name": f"rt-{i}", "routes": [{"destination": "0.0.0.0/0", "target": "nat"}]} for i in range(12)
        ],
        "security_groups": [{"name": f"sg-{i}", "rules": []} for i in range(10)],
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    os.environ["WECUBE_SANDBOX_PORT_BASE"] = os.environ.get("WECUBE_SANDBOX_PORT_BASE", "23000")
    proc, url = start_sandbox(work)
    os.environ["WECUBE_REGISTRY_PATH"] = str(work / "registry")
    os.environ["AIRFLOW_CONN_WECUBE_DEFAULT"] = json.dumps(
        {"conn_type": "wecube", "host": url, "password": TOKEN, "extra": {"retry_limit": 0}}
    )
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.orchestrations.reconcile import compare_now, hook_caller
    from airflow_wecube.orchestrations.rollout import app_attributes
    from airflow_wecube.reconcile.execute import apply
    from airflow_wecube.reconcile.plan import plan
    from airflow_wecube.reconcile.strategies import parse_strategies
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(work / "registry")
    for path in manifest_paths():
        registry.register(load_manifest(path), replace=True)
    hook = WeCubePluginHook(retry_limit=0)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def one(path: str, **entity) -> dict:
        body = {"requestId": f"b-{time.monotonic_ns()}", "inputs": [{"callbackParameter": "x", **entity}]}
        out = requests.post(url + path, json=body, headers=headers, timeout=60).json()
        assert out["resultCode"] == "0", out
        return out["results"]["outputs"][0]

    d = design()
    strategies = parse_strategies({"kinds": {"security_group": {"extra": "delete"}}})

    def rows():
        now = compare_now(hook, d, strategies)
        return [r for r in now["rows"] if r["kind"] != "app_instance" or r["app"] == "bench"]

    def run(request_id: str):
        entries = plan(rows(), strategies, mode="on", max_changes=100)["entries"]
        return entries, *apply(entries, hook_caller(hook), request_id=request_id)

    try:
        _, built, calls = run("build")
        print(f"built {len(built)} resources in {len(calls)} calls")
        deployed = []
        for n in range(1, HOSTS + 1):
            host = one("/host/v1/host/create", name=f"bench-{n}", subnet=f"{VPC}-hosts-z0")
            deployed.append(one("/deploy/v1/app/deploy", host=host["guid"], app="bench", version="1.0.0"))
        ci = one("/cmdb/v1/ci/create", type="app", name="bench")
        one(
            "/cmdb/v1/ci/update",
            guid=ci["guid"],
            attributes=app_attributes({"app": "bench", "version": "1.0.0"}, deployed, [], {}, "bench"),
        )
        assert not [r for r in rows() if r["status"] != "ok"], "not clean after the build"

        # 50 drifts: 12 subnets deleted, 12 routes changed, 10 stray security groups, 10 records
        # removed, 6 hosts destroyed under their running instances
        for zone in ZONES:
            for tier in TIERS:
                one("/network/v1/subnet/delete", name=f"{VPC}-{tier}-{zone}")
        for i in range(12):
            one(
                "/network/v1/route-table/create",
                name=f"rt-{i}",
                vpc=VPC,
                routes=[{"destination": "0.0.0.0/0", "target": "internet"}],
            )
        for i in range(10):
            one("/network/v1/security-group/create", name=f"stray-{i}", vpc=VPC, rules=[])
            [rec] = one("/cmdb/v1/ci/query", type="security_group", name=f"sg-{i}")["items"]
            one("/cmdb/v1/ci/delete", guid=rec["guid"])
        for n in range(1, HOSTS + 1):
            one("/host/v1/host/destroy", host=f"bench-{n}")
        drifted = Counter(r["status"] for r in rows() if r["status"] != "ok")
        print(f"drifts: {sum(drifted.values())} {dict(drifted)}")

        start = time.perf_counter()
        entries, done, calls = run("converge")
        seconds = time.perf_counter() - start
        left = [r["key"] for r in rows() if r["status"] != "ok"]
        outcomes = Counter(e["outcome"] for e in done)
        print(f"one run: {len(entries)} differences, {seconds:.2f} s (compare, plan, apply), outcomes {dict(outcomes)}")
        print(f"plugin calls that change: {len(calls)} for {sum(c['items'] for c in calls)} items")
        for c in calls:
            print(f"  {c['service']:<34} {c['items']:>3} item(s)")
        print("converged: " + ("yes, a second comparison finds nothing" if not left else f"NO, left: {left}"))
    finally:
        for n in range(1, HOSTS + 1):
            requests.post(
                url + "/host/v1/host/destroy",
                json={"requestId": f"c{n}", "inputs": [{"callbackParameter": "x", "host": f"bench-{n}"}]},
                headers=headers,
                timeout=60,
            )
        os.killpg(proc.pid, 15)


if __name__ == "__main__":
    main()
