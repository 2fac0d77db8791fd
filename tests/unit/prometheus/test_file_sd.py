"""file_sd target files: idempotent, atomic, locked edits (pure; parallel writers are real processes)."""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from airflow_wecube.prometheus import file_sd
from airflow_wecube.prometheus.errors import PrometheusConfigError


def groups(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def test_register_writes_one_file_per_job_with_job_label(tmp_path):
    added = file_sd.register(tmp_path, "web", ["10.0.0.1:9100", "10.0.0.2:9100"], {"env": "prod"})
    assert added == ["10.0.0.1:9100", "10.0.0.2:9100"]
    assert groups(tmp_path / "web.json") == [
        {"labels": {"env": "prod", "job": "web"}, "targets": ["10.0.0.1:9100", "10.0.0.2:9100"]}
    ]
    assert oct((tmp_path / "web.json").stat().st_mode & 0o777) == "0o644"  # Prometheus may run as another user
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_register_is_idempotent_and_does_not_rewrite(tmp_path):
    file_sd.register(tmp_path, "web", "10.0.0.1:9100")
    before = (tmp_path / "web.json").stat().st_mtime_ns
    assert file_sd.register(tmp_path, "web", ["10.0.0.1:9100", "10.0.0.1:9100"]) == []
    assert (tmp_path / "web.json").stat().st_mtime_ns == before


def test_register_with_other_labels_moves_the_target(tmp_path):
    file_sd.register(tmp_path, "web", ["a:1", "b:1"], {"env": "test"})
    assert file_sd.register(tmp_path, "web", ["a:1"], {"env": "prod"}) == ["a:1"]
    assert file_sd.registered(tmp_path, "web") == {
        "a:1": {"env": "prod", "job": "web"},
        "b:1": {"env": "test", "job": "web"},
    }


def test_deregister_removes_and_drops_the_empty_file(tmp_path):
    file_sd.register(tmp_path, "web", ["a:1", "b:1"])
    assert file_sd.deregister(tmp_path, "web", ["a:1", "zzz:1"]) == ["a:1"]
    assert file_sd.registered(tmp_path, "web") == {"b:1": {"job": "web"}}
    assert file_sd.deregister(tmp_path, "web", "b:1") == ["b:1"]
    assert not (tmp_path / "web.json").exists()
    assert file_sd.deregister(tmp_path, "web", "b:1") == []


@pytest.mark.parametrize(
    ("job", "targets", "labels", "message"),
    [
        ("../etc", ["a:1"], None, "invalid job name"),
        ("web\n", ["a:1"], None, "invalid job name"),
        ("web", ["http://a:1"], None, "invalid target"),
        ("web", ["a:1/metrics"], None, "invalid target"),
        ("web", ["a:99999"], None, "port out of range"),
        ("web", [], None, "no targets"),
        ("web", ["a:1"], {"bad-name": "x"}, "invalid label name"),
        ("web", ["a:1"], {"env\n": "x"}, "invalid label name"),
        ("web", ["a:1"], {"__address__": "x"}, "reserved"),
        ("web", ["a:1"], {"env": 1}, "must be a string"),
        ("web", ["a:1"], {"job": "other"}, "contradicts"),
        # issue 16 item 8: the address pattern let these through
        ("web", ["-host:80"], None, "host '-host' must be dot-separated names"),
        ("web", ["host-:80"], None, "neither start nor end with '-'"),
        ("web", ["a..b:80"], None, "nor are empty"),
        ("web", ["host:080"], None, "decimal number 1-65535 without leading zeros"),
        ("web", ["[1:2]:9090"], None, r"\[1:2\] is not an IPv6 address"),
        # ... and reserved labels were written whatever their value
        ("web", ["a:1"], {"__scheme__": "gopher"}, "__scheme__='gopher': Prometheus scrapes only 'http' or 'https'"),
        ("web", ["a:1"], {"__scheme__": "HTTP"}, "only 'http' or 'https'"),
        ("web", ["a:1"], {"__metrics_path__": "metrics"}, "must be a URL path starting with '/'"),
        ("web", ["a:1"], {"__metrics_path__": "/a b"}, "without spaces"),
        ("web", ["a:1"], {"__scrape_interval__": "15"}, "__scrape_interval__='15': not a positive Prometheus duration"),
        ("web", ["a:1"], {"__scrape_interval__": "0s"}, "not a positive Prometheus duration"),
        ("web", ["a:1"], {"__scrape_timeout__": "1m30"}, "__scrape_timeout__='1m30': not a positive"),
        ("web", ["a:1"], {"__scrape_interval__": "1.5m"}, "__scrape_interval__='1.5m': not a positive Prometheus"),
        ("web", ["a:1"], {"__scrape_interval__": "99999999999y"}, "not a positive Prometheus duration"),
        ("web", ["a:1"], {"__scrape_interval__": "10s", "__scrape_timeout__": "1m"}, "longer than __scrape_interval__"),
    ],
)
def test_bad_input_changes_nothing(tmp_path, job, targets, labels, message):
    file_sd.register(tmp_path, "web", ["keep:1"])
    before = (tmp_path / "web.json").read_bytes()
    with pytest.raises(PrometheusConfigError, match=message):
        file_sd.register(tmp_path, job, targets, labels)
    assert (tmp_path / "web.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web.json"]


@pytest.mark.parametrize(
    "target", ["[::1]:9090", "[::1]", "[2001:db8::7]:9100", "host.example.com.:80", "my_host:65535", "10.0.0.1:1"]
)
def test_addresses_prometheus_scrapes_are_accepted(tmp_path, target):
    assert file_sd.register(tmp_path, "web", [target]) == [target]


def test_reserved_labels_prometheus_understands_are_written(tmp_path):
    labels = {
        "__scheme__": "https",
        "__metrics_path__": "/probe/metrics",
        "__scrape_interval__": "1m30s",
        "__scrape_timeout__": "500ms",
    }
    file_sd.register(tmp_path, "web", ["a:1"], labels)
    assert file_sd.registered(tmp_path, "web") == {"a:1": {**labels, "job": "web"}}


def test_locks_stay_out_of_the_folder_prometheus_reads(tmp_path):
    """A ``files: [dir/*]`` glob, a backup or a tool reading the folder finds only target files."""
    folder = tmp_path / "file_sd"
    folder.mkdir()
    file_sd.register(folder, "web", ["a:1"])
    file_sd.register(folder, "db", ["b:1"])
    file_sd.deregister(folder, "db", ["b:1"])
    assert sorted(p.name for p in folder.iterdir()) == ["web.json"]
    locks = sorted(p.name for p in (tmp_path / ".wecube-locks").iterdir())
    assert locks and all(name.endswith(".json.lock") for name in locks)
    assert any(name.endswith("-web.json.lock") for name in locks), locks
    elsewhere = tmp_path / "locks"
    file_sd.register(folder, "web", ["c:1"], lock_dir=elsewhere)
    assert sorted(p.name for p in folder.iterdir()) == ["web.json"]
    assert [p.name.split("-", 1)[1] for p in elsewhere.iterdir()] == ["web.json.lock"]


def test_malformed_file_is_refused_not_overwritten(tmp_path):
    (tmp_path / "web.json").write_text("{not json")
    with pytest.raises(PrometheusConfigError, match="not valid JSON"):
        file_sd.register(tmp_path, "web", "a:1")
    assert (tmp_path / "web.json").read_text() == "{not json"


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PrometheusConfigError, match="does not exist"):
        file_sd.register(tmp_path / "nope", "web", "a:1")


def _register_one(args):
    folder, i = args
    return file_sd.register(folder, "fleet", [f"10.1.0.{i}:9100"], {"slot": str(i % 3)}), os.getpid()


def test_parallel_processes_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=6, mp_context=ctx) as pool:
        results = list(pool.map(_register_one, [(str(tmp_path), i) for i in range(40)]))
    assert len({pid for _, pid in results}) > 1  # really several writers
    assert sorted(file_sd.registered(tmp_path, "fleet")) == sorted(f"10.1.0.{i}:9100" for i in range(40))
