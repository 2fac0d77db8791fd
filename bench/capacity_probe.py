"""Benchmark: how well the canary capacity probe measures the account service's known costs.

    .venv/bin/python bench/capacity_probe.py [--rounds 6] [--scrape 1] [--demo-rounds 1]

Starts a sandbox and a Prometheus (scraping every ``--scrape`` seconds) and, per round, with a
fresh model store:

1. deploys 1.0.0 on a host and probes it (the first release: the baseline);
2. deploys 1.0.0 again as another app (an unchanged version) and probes it against that baseline;
3. deploys 1.1.0+slowclose (close cost doubled) and probes it against that baseline.

The sandbox's true costs: open 1 ms, close 2 ms (4 ms with +slowclose) of CPU, so the true
close/open cost ratio is 2 (4). Reported: the ratio each probe measured, the verdicts (a regression
must be caught, the unchanged version must pass), the probe's duration and the 95 % interval
half-width of each coefficient. ``--demo-rounds`` rounds (baseline and slowclose only) run with a
second Prometheus scraping every 5 s, the demo's interval, for the duration there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from plugin_call import TOKEN, start_sandbox  # noqa: E402

SPEC = REPO / "dags" / "capacity" / "account_service.yml"
TRUE_RATIO = {"1.0.0": 2.0, "1.1.0+slowclose": 4.0}


def post(url: str, path: str, **entity) -> dict:
    import requests

    body = {
        "requestId": f"bench-{time.monotonic_ns()}",
        "operator": "bench",
        "inputs": [{"callbackParameter": "x", **entity}],
    }
    r = requests.post(url + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    out = r.json()
    assert out["resultCode"] == "0", out
    return out["results"]["outputs"][0]


def one_probe(url, prom_server, host, app, version, store, scrape) -> dict:
    from airflow_wecube.capacity.design import design_schedule
    from airflow_wecube.capacity.probe_run import run_probe
    from airflow_wecube.capacity.spec import load_spec
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.hooks.prometheus import PrometheusHook

    job = f"wecube_app_{app}"
    spec = load_spec(SPEC.read_text().replace("wecube_app_account-service", job))
    deployed = post(url, "/deploy/v1/app/deploy", host=host, app=app, version=version, rate=5)
    prom = PrometheusHook()
    prom.register_targets(job, [deployed["target"]])
    t0 = time.monotonic()
    result = run_probe(
        spec,
        [deployed],
        design_schedule({"open_rate": (10, 100), "close_rate": (10, 80), "transfer_rate": (5, 60)}, 8),
        store=store,
        model="account_service_canary",
        plugin=WeCubePluginHook(),
        prometheus=prom,
        scrape_interval=timedelta(seconds=scrape),
        hold_intervals=4,
    )
    wall = time.monotonic() - t0
    post(url, "/deploy/v1/app/stop", host=host, app=app)
    rows = {r["name"]: r["new"] for r in result["coefficient_table"]}
    o, c = rows["accounts_opened"], rows["accounts_closed"]
    return {
        "version": version,
        "scrape": scrape,
        "verdict": result["verdict"],
        "coefficients": result["coefficients"],
        "ratio": c["value"] / o["value"],
        "true_ratio": TRUE_RATIO[version],
        "open": o["value"],
        "close": c["value"],
        "half_open": (o["ci_high"] - o["ci_low"]) / 2,
        "half_close": (c["ci_high"] - c["ci_low"]) / 2,
        "half_intercept": (rows["intercept"]["ci_high"] - rows["intercept"]["ci_low"]) / 2,
        "r2": result["r2"]["new"],
        "n": result["n"],
        "seconds": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--scrape", type=float, default=1.0)
    parser.add_argument("--demo-rounds", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write every run as JSON here")
    args = parser.parse_args()

    from tests.fixtures.prometheus import start_prometheus

    work = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    os.environ.setdefault("WECUBE_SANDBOX_PORT_BASE", "27000")
    os.environ["WECUBE_REGISTRY_PATH"] = str(work / "registry")
    from airflow_wecube.capacity.store import ModelStore
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(work / "registry")
    for path in manifest_paths():
        registry.register(load_manifest(path), replace=True)
    proc, url = start_sandbox(work)
    os.environ["AIRFLOW_CONN_WECUBE_DEFAULT"] = json.dumps({"conn_type": "wecube", "host": url, "password": TOKEN})
    runs: list[dict] = []
    servers = []
    try:
        plan = [(args.scrape, args.rounds, ("1.0.0", "1.0.0", "1.1.0+slowclose"))]
        if args.demo_rounds:
            plan.append((5.0, args.demo_rounds, ("1.0.0", "1.1.0+slowclose")))
        # one app per role, deployed again every round (a host has 10 ports; a stopped app keeps its own)
        for scrape, rounds, versions in plan:
            prom = start_prometheus(work / f"prom-{scrape:g}", scrape_interval=f"{scrape:g}s")
            servers.append(prom)
            os.environ["AIRFLOW_CONN_PROMETHEUS_DEFAULT"] = json.dumps(
                {"conn_type": "prometheus", "host": prom.url, "extra": {"file_sd_dir": str(prom.file_sd_dir)}}
            )
            tag = f"{scrape:g}".replace(".", "_")
            vpc = post(
                url,
                "/network/v1/vpc/create",
                name=f"bench-vpc-{tag}",
                cidr=f"10.{77 + len(servers)}.0.0/16",
                data_center="b",
            )
            sn = post(
                url,
                "/network/v1/subnet/create",
                name=f"bench-sn-{tag}",
                vpc=vpc["guid"],
                zone="a",
                prefix_length=24,
            )
            host = post(url, "/host/v1/host/create", name=f"bench-host-{tag}", subnet=sn["guid"])["guid"]
            for r in range(rounds):
                store = ModelStore(work / f"store-{scrape:g}-{r}")
                for i, version in enumerate(versions):
                    try:
                        run = one_probe(url, prom, host, f"bench-{i}", version, store, scrape)
                    except Exception as e:  # report every run, failures included
                        run = {"version": version, "scrape": scrape, "error": str(e)[:300]}
                    run.update(
                        round=r,
                        role=("baseline", "unchanged", "slowclose")[i]
                        if len(versions) == 3
                        else ("baseline", "slowclose")[i],
                    )
                    runs.append(run)
                    print(json.dumps(run), flush=True)
    finally:
        for s in servers:
            s.stop()
        from tests.fixtures.processes import stop_process_group

        stop_process_group(proc, grace=10)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    summarise(runs)


def summarise(runs: list[dict]) -> None:
    for scrape in sorted({r["scrape"] for r in runs}):
        rs = [r for r in runs if r["scrape"] == scrape]
        ok = [r for r in rs if "error" not in r]
        print(f"\nscrape {scrape:g}s: {len(rs)} probes, {len(rs) - len(ok)} failed")
        for role in ("baseline", "unchanged", "slowclose"):
            got = [r for r in ok if r["role"] == role]
            if not got:
                continue
            within = sum(abs(r["ratio"] / r["true_ratio"] - 1) <= 0.15 for r in got)
            verdicts = {v: sum(r["verdict"] == v for r in got) for v in ("pass", "regression", "new_factor")}
            print(
                f"  {role:<9} n={len(got)} ratio median {statistics.median(r['ratio'] for r in got):.2f} "
                f"(true {got[0]['true_ratio']:g}; within ±15%: {within}/{len(got)}) verdicts {verdicts} "
                f"duration median {statistics.median(r['seconds'] for r in got):.0f}s "
                f"half-widths open {statistics.median(r['half_open'] for r in got):.4f} "
                f"close {statistics.median(r['half_close'] for r in got):.4f} "
                f"intercept {statistics.median(r['half_intercept'] for r in got):.3f} "
                f"R² {statistics.median(r['r2'] for r in got):.3f}"
            )


if __name__ == "__main__":
    main()
