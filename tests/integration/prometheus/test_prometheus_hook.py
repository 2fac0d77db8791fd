"""PrometheusHook against a real Prometheus: queries, file_sd targets, rule groups."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import PrometheusConfigError, PrometheusQueryError, PrometheusRuleError
from tests.fixtures.waiting import wait_for


def file_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def test_bad_promql_carries_prometheus_message(prometheus_conn):
    with pytest.raises(PrometheusQueryError, match=r"HTTP 400, bad_data\): .*parse error") as info:
        PrometheusHook(prometheus_conn).query("sum(up")
    assert "sum(up" in str(info.value)


def test_scalar_and_at(prometheus_conn):
    hook = PrometheusHook(prometheus_conn)
    assert hook.query("1 + 1") == [
        {"labels": {}, "value": 2.0, "timestamp": pytest.approx(hook.query("time()")[0]["value"], abs=5)}
    ]
    assert hook.query("time()", at=1_700_000_000)[0]["value"] == 1_700_000_000


def test_register_scrape_deregister(prometheus, prometheus_conn, exporter):
    hook = PrometheusHook(prometheus_conn)
    job = "it_scrape"
    assert hook.register_targets(job, [exporter.target], {"env": "it"}) == [
        exporter.target
    ]  # confirmed in /api/v1/targets
    assert json.loads((prometheus.file_sd_dir / f"{job}.json").read_text()) == [
        {"labels": {"env": "it", "job": job}, "targets": [exporter.target]}
    ]
    up = wait_for(lambda: [s for s in hook.query(f'up{{job="{job}"}} == 1')], timeout=30)
    assert up[0]["labels"] == {"__name__": "up", "env": "it", "instance": exporter.target, "job": job}
    # the exporter's own metric is scraped with our labels
    ready = wait_for(lambda: hook.query(f'wecube_demo_ready{{job="{job}"}}'))
    assert ready[0]["value"] == 1.0 and ready[0]["labels"]["app"] == "demo"
    listed = [t for t in prometheus.api("targets")["data"]["activeTargets"] if t["labels"]["job"] == job]
    assert [t["health"] for t in listed] == ["up"]

    assert hook.register_targets(job, exporter.target, {"env": "it"}) == []  # idempotent
    assert hook.deregister_targets(job, [exporter.target]) == [exporter.target]  # confirmed gone
    assert not (prometheus.file_sd_dir / f"{job}.json").exists()
    assert not [t for t in prometheus.api("targets")["data"]["activeTargets"] if t["labels"]["job"] == job]


def test_twenty_parallel_registrations_into_one_job(prometheus, prometheus_conn):
    job = "it_parallel"
    targets = [f"127.0.0.1:{20000 + i}" for i in range(20)]  # nobody listens: listed, not up

    def register(target):
        return PrometheusHook(prometheus_conn).register_targets(job, [target], {"slot": target[-1]}, timeout=60)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(register, targets))
    assert results == [[t] for t in targets]
    in_file = {t for g in json.loads((prometheus.file_sd_dir / f"{job}.json").read_text()) for t in g["targets"]}
    assert in_file == set(targets)
    # the lock that serialised them is not in the folder Prometheus reads
    assert not [p.name for p in prometheus.file_sd_dir.iterdir() if not p.name.endswith(".json")]
    listed = {
        t["discoveredLabels"]["__address__"]
        for t in prometheus.api("targets")["data"]["activeTargets"]
        if t["labels"]["job"] == job
    }
    assert listed == set(targets)
    hook = PrometheusHook(prometheus_conn)
    assert sorted(hook.deregister_targets(job, targets)) == sorted(targets)


def test_bad_target_input_changes_nothing(prometheus, prometheus_conn):
    hook = PrometheusHook(prometheus_conn)
    before = sorted(p.name for p in prometheus.file_sd_dir.iterdir())
    with pytest.raises(PrometheusConfigError, match="invalid target"):
        hook.register_targets("it_bad", ["http://127.0.0.1:1/metrics"])
    with pytest.raises(PrometheusConfigError, match="invalid job name"):
        hook.register_targets("../it_bad", ["127.0.0.1:1"])
    assert sorted(p.name for p in prometheus.file_sd_dir.iterdir()) == before


def test_reserved_labels_are_checked_before_prometheus_sees_them(prometheus, prometheus_conn, exporter):
    """Issue 16 item 8: confirmation looked at the address only, so `__scheme__: gopher` was written
    and "confirmed" while Prometheus could never scrape it. Values it understands still work."""
    hook = PrometheusHook(prometheus_conn)
    job = "it_reserved"
    before = sorted(p.name for p in prometheus.file_sd_dir.iterdir())
    for labels in (
        {"__scheme__": "gopher"},
        {"__metrics_path__": "metrics"},
        {"__scrape_interval__": "2"},
        {"__scrape_interval__": "1s", "__scrape_timeout__": "5s"},
    ):
        with pytest.raises(PrometheusConfigError, match="label __"):
            hook.register_targets(job, [exporter.target], labels, timeout=5)
    for target in ("-localhost:9090", "localhost:09090"):
        with pytest.raises(PrometheusConfigError, match="invalid target"):
            hook.register_targets(job, [target], timeout=5)
    assert sorted(p.name for p in prometheus.file_sd_dir.iterdir()) == before
    labels = {
        "__scheme__": "http",
        "__metrics_path__": "/metrics",
        "__scrape_interval__": "2s",
        "__scrape_timeout__": "1500ms",
    }
    assert hook.register_targets(job, [exporter.target], labels) == [exporter.target]
    up = wait_for(lambda: hook.query(f'up{{job="{job}"}} == 1'), timeout=30)
    assert up[0]["labels"]["instance"] == exporter.target
    listed = [t for t in prometheus.api("targets")["data"]["activeTargets"] if t["labels"]["job"] == job]
    assert listed[0]["scrapeUrl"] == f"http://{exporter.target}/metrics" and listed[0]["scrapeInterval"] == "2s"
    assert hook.deregister_targets(job, [exporter.target]) == [exporter.target]


ALERT = {
    "alert": "WeCubeItDown",
    "expr": 'up{job="it_rules"} == 0',
    "for": "1m",
    "labels": {"severity": "critical"},
    "annotations": {"summary": "{{ $labels.instance }} is down"},
}


def test_rule_group_loaded_refused_and_deleted(prometheus, prometheus_conn):
    hook = PrometheusHook(prometheus_conn)
    name = "it_rules"
    path = prometheus.rules_dir / f"{name}.yml"
    group = hook.apply_rule_group(name, [ALERT, {"record": "it:up:count", "expr": "count(up) or vector(0)"}])
    assert [r["name"] for r in group["rules"]] == ["WeCubeItDown", "it:up:count"]
    loaded = {g["name"]: g for g in prometheus.api("rules")["data"]["groups"]}
    assert loaded[name]["file"] == str(path)
    assert loaded[name]["rules"][0]["annotations"] == {"summary": "{{ $labels.instance }} is down"}
    # the recording rule is evaluated by Prometheus (evaluation interval 1 s)
    wait_for(lambda: hook.query("it:up:count"))
    good = path.read_bytes()

    # an invalid rule: promtool's message, live file and loaded group unchanged
    with pytest.raises(PrometheusRuleError, match=r"could not parse expression") as info:
        hook.apply_rule_group(name, [{"alert": "Broken", "expr": "up ==", "for": "1m"}])
    assert f"{name}.yml" in info.value.output
    assert path.read_bytes() == good
    assert [r["name"] for r in hook._loaded_group(name)["rules"]] == ["WeCubeItDown", "it:up:count"]
    assert not [p for p in prometheus.rules_dir.iterdir() if not p.name.endswith(".yml")]  # no .tmp, no .lock

    # a bad duration is refused before promtool, by the duration parser every package uses
    with pytest.raises(PrometheusConfigError, match="alert 'A': 'for': not a duration: 'soon'"):
        hook.apply_rule_group(name, [{"alert": "A", "expr": "up == 0", "for": "soon"}])
    assert path.read_bytes() == good

    # replace: the group changes in place
    group = hook.apply_rule_group(name, [ALERT])
    assert [r["name"] for r in group["rules"]] == ["WeCubeItDown"]

    assert hook.delete_rule_group(name) is True
    assert not path.exists()
    assert name not in {g["name"] for g in prometheus.api("rules")["data"]["groups"]}
    assert hook.delete_rule_group(name) is False


def test_invalid_new_rule_group_leaves_no_file(prometheus, prometheus_conn):
    path = prometheus.rules_dir / "it_never.yml"
    with pytest.raises(PrometheusRuleError, match="promtool refused"):
        PrometheusHook(prometheus_conn).apply_rule_group("it_never", [{"record": "bad name!", "expr": "up"}])
    assert file_bytes(path) is None
