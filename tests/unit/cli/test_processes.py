"""`wecube processes ...` run as a user runs it: the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.paths import PROCESS_DATA

WECUBE = str(Path(sys.executable).parent / "wecube")


def wecube(*args, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("WECUBE_PROCESSES_PATH", "WECUBE_REGISTRY_PATH")}
    return subprocess.run([WECUBE, *args], capture_output=True, text=True, env={**e, **(env or {})}, timeout=60)


def snapshot(folder: Path) -> dict[str, bytes]:
    return (
        {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        if folder.exists()
        else {}
    )


def test_import_a_real_export(procdef_corpus, procdef_registry, tmp_path):  # noqa: F811
    store = tmp_path / "dags" / "wecube_processes"
    pds = next(procdef_corpus.glob("proc-default_alarm_handling*.pds"))

    r = wecube("processes", "validate", str(pds), "--registry", str(tmp_path / "empty"))
    assert r.returncode == 1
    assert "service notification/mail(alarm)/send is not registered: package notification is not registered" in r.stderr
    assert "wecube plugins register <notification register.xml>" in r.stderr

    r = wecube("processes", "validate", str(pds), "--registry", str(procdef_registry.root))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: wecube1584968536974 1 '默认告警处理编排_V0.1': 6 nodes, 6 flows")
    assert not store.exists()  # validate writes nothing

    args = ("processes", "import", str(pds), "--registry", str(procdef_registry.root), "--processes", str(store))
    r = wecube(*args)
    assert r.returncode == 0, r.stderr
    assert "(DAG wecube_proc_wecube1584968536974)" in r.stdout
    stored = snapshot(store)
    assert list(stored) == ["wecube1584968536974/1.json"]

    r = wecube(*args)
    assert r.returncode == 1 and "already stored: wecube1584968536974 1" in r.stderr and "--replace" in r.stderr
    assert snapshot(store) == stored
    assert wecube(*args, "--replace").returncode == 0

    r = wecube("processes", "list", "--json", "--processes", str(store))
    [row] = json.loads(r.stdout)
    assert row["key"] == "wecube1584968536974" and row["node_types"] == {
        "start": 1,
        "fork": 1,
        "merge": 1,
        "end": 1,
        "automatic": 2,
    }

    r = wecube("processes", "show", "wecube1584968536974", env={"WECUBE_PROCESSES_PATH": str(store)})
    assert r.returncode == 0, r.stderr
    assert "发送告警邮件  [notification/mail(alarm)/send  @2020-04-16]" in r.stdout
    assert "entities: wecube-monitor:alarm" in r.stdout

    r = wecube("processes", "remove", "wecube1584968536974@1", "--processes", str(store))
    assert r.returncode == 0 and "removed wecube1584968536974 1" in r.stdout
    assert snapshot(store) == {}


def test_refused_file_writes_nothing(sandbox_registry, tmp_path):  # noqa: F811
    store = tmp_path / "wecube_processes"
    ok = ("processes", "import", str(PROCESS_DATA / "v4_app_release.json"), "--registry", str(sandbox_registry.root))
    r = wecube(*ok, "--processes", str(store))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("imported ") == 2
    before = snapshot(store)
    assert set(before) == {"app_release/v1.json", "host_check/v1.json"}

    r = wecube(
        "processes",
        "import",
        str(PROCESS_DATA / "loop.bpmn"),
        "--registry",
        str(sandbox_registry.root),
        "--processes",
        str(store),
    )
    assert r.returncode == 1
    assert "loop.bpmn" in r.stderr and "the flow loops:" in r.stderr and "Retry 'deploy'" in r.stderr
    xxe = tmp_path / "xxe.bpmn"
    xxe.write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>')
    r = wecube("processes", "import", str(xxe), "--processes", str(store), "--registry", str(sandbox_registry.root))
    assert r.returncode == 1 and "refused unsafe XML" in r.stderr
    assert snapshot(store) == before

    r = wecube("processes", "show", "app_release", "--json", "--processes", str(store))
    shown = json.loads(r.stdout)
    assert shown["key"] == "app_release" and "diagram" not in shown


def test_store_defaults_to_the_dags_folder(tmp_path):
    r = wecube("processes", "list", env={"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"no processes stored in {tmp_path / 'dags' / 'wecube_processes'}"
    r = wecube("processes", "list", env={"AIRFLOW__WECUBE__PROCESSES_PATH": str(tmp_path / "configured")})
    assert r.stdout.strip() == f"no processes stored in {tmp_path / 'configured'}"
