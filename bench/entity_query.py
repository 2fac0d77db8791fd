"""Benchmark data-model expressions and entity-bound calls on the sandbox CMDB.

Run by hand (`.venv/bin/python bench/entity_query.py`); results go to bench/README.md.

1. A 5-hop expression ``data_center~vpc~subnet~host~app_instance`` over a CMDB of 10,000
   entities per type (50,000 in all, made through the entity API): the whole walk (every data
   center, 10,000 paths) and a filtered one (one region: 100 paths), end to end (data model,
   queries, paths), with the number of HTTP queries (one per hop per chunk of ids).
2. ``host/host/check`` over 1,000 hosts of a subnet: ``hook.call(entities=..., root=...)``
   (evaluation, inputs through a reference, the call, the write-back's comparison) against the
   same call with the inputs built by hand. Interleaved round by round, the ratio is the median of
   the per-round ratios; the entity API's own time (the queries) is reported beside it.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plugin_call import TOKEN, start_sandbox  # noqa: E402

PER_TYPE = int(os.environ.get("BENCH_PER_TYPE", "10000"))
HOSTS = int(os.environ.get("BENCH_HOSTS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
BATCH = 1000
CHAIN = ("data_center", "vpc", "subnet", "host", "app_instance")
REF = {"vpc": "data_center", "subnet": "vpc", "host": "subnet", "app_instance": "host"}
FIVE_HOPS = "cmdb:data_center~(data_center)cmdb:vpc~(vpc)cmdb:subnet~(subnet)cmdb:host~(host)cmdb:app_instance"


def seed(api) -> None:
    """``PER_TYPE`` entities of each type in a chain; entity i refers to entity i of the type before."""
    for entity in CHAIN:
        for start in range(0, PER_TYPE, BATCH):
            items = []
            for i in range(start, min(start + BATCH, PER_TYPE)):
                item = {"id": f"{entity}-{i:05d}", "name": f"{entity}-{i:05d}"}
                if entity == "data_center":
                    item["region"] = f"r{i % 100}"
                else:
                    item[REF[entity]] = f"{REF[entity]}-{i:05d}"
                items.append(item)
            api.create("cmdb", entity, items)


def timed_api(api):
    """Count the seconds the entity API's requests take (the queries), beside their number."""
    send = api._send
    api.seconds = 0.0

    def wrapped(*args, **kwargs):
        t = time.perf_counter()
        try:
            return send(*args, **kwargs)
        finally:
            api.seconds += time.perf_counter() - t

    api._send = wrapped
    return api


def server_cpu(pid: int) -> float:
    """CPU seconds the sandbox process has used (user + system): what load on the machine barely moves."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_query(url: str, pid: int) -> list[tuple[str, float, int, int, float, float]]:
    from airflow_wecube.datamodel.client import EntityApi
    from airflow_wecube.datamodel.evaluate import Evaluator

    out = []
    for label, expr in (
        ("whole walk", FIVE_HOPS),
        ("one region", FIVE_HOPS.replace("cmdb:data_center", "cmdb:data_center{region eq 'r7'}", 1)),
    ):
        runs = []
        for _ in range(7):
            api = EntityApi.at(url, TOKEN)  # a new client each time: the data model is read again
            t, cpu, server = time.perf_counter(), time.process_time(), server_cpu(pid)
            rows = Evaluator(api).evaluate(expr)
            runs.append(
                (time.perf_counter() - t, len(rows), api.requests, time.process_time() - cpu, server_cpu(pid) - server)
            )
        med = [statistics.median(r[i] for r in runs) for i in (0, 3, 4)]
        out.append((label, med[0], runs[0][1], runs[0][2], med[1], med[2]))
    return out


def bench_call(url: str, pid: int) -> dict[str, float]:
    from airflow_wecube.datamodel.client import EntityApi
    from airflow_wecube.hooks import entities as connections
    from airflow_wecube.hooks.plugin import WeCubePluginHook
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    api = EntityApi.at(url, TOKEN)
    vpc = api.create("cmdb", "vpc", [{"name": "bench-vpc", "cidr": "10.0.0.0/8"}])[0]
    subnet = api.create("cmdb", "subnet", [{"name": "bench-subnet", "cidr": "10.1.0.0/16", "vpc": vpc["id"]}])[0]
    for start in range(0, HOSTS, BATCH):
        api.create(
            "cmdb",
            "host",
            [
                {"name": f"bench-h{i}", "ip": f"10.1.{i // 250}.{i % 250 + 2}", "subnet": subnet["id"]}
                for i in range(start, min(start + BATCH, HOSTS))
            ],
        )
    hosts = api.query("cmdb", "host", [{"attrName": "subnet", "op": "eq", "condition": subnet["id"]}])
    by_hand = [
        {"callbackParameter": h["id"], "host": h["name"], "ip": h["ip"], "subnet_cidr": "10.1.0.0/16"} for h in hosts
    ]
    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Path(tmp) / "reg")
        for m in manifest_paths():
            reg.register(load_manifest(m))
        hook = WeCubePluginHook(registry=reg)
        queries = {"seconds": 0.0}
        real = connections.entity_api

        def counted(*args, **kwargs):
            client = timed_api(real(*args, **kwargs))
            queries["client"] = client
            return client

        connections.entity_api = counted
        expr = "cmdb:subnet~(subnet)cmdb:host"
        bound = lambda: hook.call("host/host/check", entities=expr, root=subnet["id"])  # noqa: E731
        hand = lambda: hook.call("host/host/check", by_hand)  # noqa: E731
        bound(), hand()  # warm up; the first bound call writes the statuses back once
        per_round, ratios, net_ratios, query_share, requests = [], [], [], [], []
        client = queries["client"]  # made by the first bound call, kept on the hook
        for r in range(ROUNDS):
            times = {}
            for name, fn in (("bound", bound), ("hand", hand)) if r % 2 == 0 else (("hand", hand), ("bound", bound)):
                seconds, sent = client.seconds, client.requests
                t, c0, s0 = time.perf_counter(), time.process_time(), server_cpu(pid)
                result = fn()
                times[name] = time.perf_counter() - t
                times[name + "_cpu"] = time.process_time() - c0 + server_cpu(pid) - s0
                assert len(result.outputs) == len(hosts)
                if name == "bound":
                    q = client.seconds - seconds
                    requests.append(client.requests - sent)
            per_round.append(times)
            ratios.append(times["bound"] / times["hand"])
            net_ratios.append((times["bound"] - q) / times["hand"])
            query_share.append(q)
        connections.entity_api = real
    return {
        "entities": len(hosts),
        "bound": statistics.median(t["bound"] for t in per_round),
        "hand": statistics.median(t["hand"] for t in per_round),
        "ratio": statistics.median(ratios),
        "ratio_lo": min(ratios),
        "ratio_hi": max(ratios),
        "queries": statistics.median(query_share),
        "net_ratio": statistics.median(net_ratios),
        "requests": statistics.median(requests),
        "cpu_bound": statistics.median(t["bound_cpu"] for t in per_round),
        "cpu_hand": statistics.median(t["hand_cpu"] for t in per_round),
        "cpu_ratio": statistics.median(t["bound_cpu"] / t["hand_cpu"] for t in per_round),
    }


def main() -> None:
    logging.disable(logging.INFO)  # the hook's and the binding's lines per call
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sandbox(Path(tmp))
        try:
            os.environ["AIRFLOW_CONN_WECUBE_DEFAULT"] = json.dumps(
                {"conn_type": "wecube", "host": url, "password": TOKEN}
            )
            from airflow_wecube.datamodel.client import EntityApi

            t = time.perf_counter()
            seed(EntityApi.at(url, TOKEN))
            seeded = time.perf_counter() - t
            query = bench_query(url, proc.pid)
            call = bench_call(url, proc.pid)
        finally:
            os.killpg(proc.pid, 9)
    print(f"CMDB: {PER_TYPE:,} entities per type x {len(CHAIN)} types, made through the entity API in {seeded:.1f} s")
    load = os.getloadavg()[0]
    for label, seconds, rows, requests, cpu, server in query:
        print(
            f"  5 hops, {label:<10}: {seconds * 1000:6.0f} ms end to end (median of 7), {rows:,} paths, "
            f"{requests} HTTP requests; CPU {cpu * 1000:.0f} ms client + {server * 1000:.0f} ms sandbox"
        )
    print(f"  load average {load:.1f} on {os.cpu_count()} cores")
    print(
        f"host/host/check over {call['entities']:,} hosts, {ROUNDS} interleaved rounds: entities= "
        f"{call['bound'] * 1000:.0f} ms vs hand-built inputs {call['hand'] * 1000:.0f} ms: "
        f"{call['ratio']:.2f}x ({call['ratio_lo']:.2f}-{call['ratio_hi']:.2f}); the entity API's "
        f"{call['requests']:.0f} requests {call['queries'] * 1000:.0f} ms; without them {call['net_ratio']:.2f}x"
    )
    print(
        f"  CPU (client + sandbox) per call: entities= {call['cpu_bound'] * 1000:.0f} ms vs hand-built "
        f"{call['cpu_hand'] * 1000:.0f} ms: {call['cpu_ratio']:.2f}x (median of the rounds' ratios)"
    )


if __name__ == "__main__":
    main()
