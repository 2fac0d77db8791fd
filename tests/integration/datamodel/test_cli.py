"""``wecube entities query|model`` against the sandbox's entity API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_wecube.cli import main

pytestmark = pytest.mark.integration


def _run(capsys, sandbox, *argv) -> tuple[int, str, str]:
    code = main([*argv, "--url", sandbox.url, "--token", sandbox.token])
    out, err = capsys.readouterr()
    return code, out, err


def test_query_prints_a_table_of_what_the_expression_reaches(capsys, sandbox, topology):
    code, out, _ = _run(capsys, sandbox, "entities", "query", "cmdb:subnet~(subnet)cmdb:host", "--root", topology["s1"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "displayName", "path"]
    assert sorted(line.split()[1].rsplit("-", 1)[0] for line in lines[1:-1]) == ["h1", "h4"]
    assert f"{topology['s1']}::{topology['h1']}" in out
    assert lines[-1] == "2 row(s), 3 request(s) to the entity API"


def test_query_json_with_a_trailing_attribute(capsys, sandbox, topology):
    code, out, _ = _run(
        capsys,
        sandbox,
        "entities",
        "query",
        "cmdb:vpc~(vpc)cmdb:subnet{zone eq 'z2'}.cidr",
        "--root",
        topology["vpc"],
        "--json",
    )
    assert code == 0
    (row,) = json.loads(out)
    assert row["id"] == topology["s2"] and row["value"] == row["cidr"] == "10.0.2.0/24"
    assert row["vpc"] == topology["vpc"] and row["path"] == f"{topology['vpc']}::{topology['s2']}"


def test_model_lists_entities_and_references(capsys, sandbox):
    code, out, _ = _run(capsys, sandbox, "entities", "model", "cmdb")
    assert code == 0
    assert "cmdb:host  (Host)" in out
    assert any(line.split()[:4] == ["subnet", "ref", "->", "cmdb:subnet"] for line in out.splitlines())
    code, out, _ = _run(capsys, sandbox, "entities", "model", "cmdb", "--json")
    assert {e["name"] for e in json.loads(out)["entities"]} >= {"data_center", "vpc", "subnet", "host", "app_instance"}


def test_errors_are_one_clear_message(capsys, sandbox):
    code, _, err = _run(capsys, sandbox, "entities", "query", "cmdb:subnet~subnet)cmdb:host")
    assert code == 1
    assert err.splitlines()[-2:] == ["  cmdb:subnet~subnet)cmdb:host", "              ^"]
    code, _, err = _run(capsys, sandbox, "entities", "query", "cmdb:subnet~(subnet)cmdb:hosts")
    assert code == 1 and "no entity 'hosts' (closest: host)" in err


def test_the_console_script_reads_the_demo_s_environment(sandbox, topology):
    env = {**os.environ, "WECUBE_ENTITY_URL": sandbox.url, "WECUBE_ENTITY_TOKEN": sandbox.token}
    script = Path(sys.executable).with_name("wecube")
    proc = subprocess.run(
        [str(script), "entities", "query", "cmdb:subnet~(subnet)cmdb:host.ip", "--root", topology["s2"]],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "10.0.2.12" in proc.stdout and "10.0.2.15" in proc.stdout
