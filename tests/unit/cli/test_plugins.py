"""`wecube plugins ...` run as a user runs it: the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WECUBE = str(Path(sys.executable).parent / "wecube")


def wecube(*args, registry=None, env=None):
    e = {**os.environ, **(env or {})}
    cmd = [WECUBE, *args] + (["--registry", str(registry)] if registry else [])
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=60)


def snapshot(folder: Path) -> dict[str, bytes]:
    return (
        {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        if folder.exists()
        else {}
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory, wecube_fixtures):
    reg = tmp_path_factory.mktemp("registry")
    for name in ("taskman", "open-monitor", "capacity", "saltstack"):
        r = wecube(
            "plugins", "register", str(wecube_fixtures / f"{name}.register.xml"), "--version", "1.0.0", registry=reg
        )
        assert r.returncode == 0, r.stderr
        assert "registered" in r.stdout
        if name == "open-monitor":
            assert "warning: service monitor/snmp_exporter/add is declared 2 times" in r.stderr
    return reg


def test_list_json_shows_every_interface(registry):
    r = wecube("plugins", "list", "--json", registry=registry)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 54 + 31 + 3 + 1
    for row in rows:
        assert {"service", "package", "version", "path", "method", "async", "type"} <= row.keys()
    byname = {row["service"]: row for row in rows}
    assert byname["taskman/task/create-by-template"]["async"] is True
    assert byname["monitor/snmp_exporter/add#2"]["path"].endswith("/delete")


def test_list_text_and_show(registry):
    r = wecube("plugins", "list", registry=registry)
    assert "capacity/compare/add" in r.stdout
    r = wecube("plugins", "show", "saltstack/user/add", "--json", registry=registry)
    if r.returncode != 0:  # name may differ; pick any saltstack service with a sensitive input
        rows = json.loads(wecube("plugins", "list", "--json", registry=registry).stdout)
        name = next(x["service"] for x in rows if x["package"] == "saltstack")
        r = wecube("plugins", "show", name, "--json", registry=registry)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["interface"]["inputs"]


def test_registry_from_env(registry):
    r = wecube("plugins", "list", "--json", env={"WECUBE_REGISTRY_PATH": str(registry)})
    assert len(json.loads(r.stdout)) > 50


def test_placeholder_without_version_refused(tmp_path, wecube_fixtures):
    r = wecube("plugins", "register", str(wecube_fixtures / "taskman.register.xml"), registry=tmp_path / "reg")
    assert r.returncode != 0
    assert "taskman.register.xml:2" in r.stderr and "--version" in r.stderr
    assert not (tmp_path / "reg").exists()


HOSTILE = {
    "xxe.xml": (
        b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<package name="evil" version="1"><plugins><plugin name="p"><interface action="a" path="/a"/>'
        b"</plugin></plugins></package>"
    ),
    "broken.xml": b"<package name='evil' version='1'>\n<plugins>\n<plugin name='p'>\n</plugins></package>",
    "bad.yaml": (
        b"package: evil\nversion: 1\nplugins:\n  - name: p\n"
        b"    interfaces:\n      - action: a\n        path: no-slash\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_manifest_leaves_registry_unchanged(registry, tmp_path, name):
    bad = tmp_path / name
    bad.write_bytes(HOSTILE[name])
    before = snapshot(registry)
    r = wecube("plugins", "register", str(bad), registry=registry)
    assert r.returncode != 0
    assert str(bad) in r.stderr and "Traceback" not in r.stderr
    assert snapshot(registry) == before
    v = wecube("plugins", "validate", str(bad))
    assert v.returncode != 0


def test_broken_xml_message_has_line_and_element(tmp_path):
    bad = tmp_path / "broken.xml"
    bad.write_bytes(HOSTILE["broken.xml"])
    r = wecube("plugins", "validate", str(bad))
    assert f"{bad}:4" in r.stderr and "malformed XML" in r.stderr
    bad.write_bytes(
        b"<package name='x' version='1'><plugins><plugin name='p'>\n"
        b"<interface action='a'/></plugin></plugins></package>"
    )
    r = wecube("plugins", "validate", str(bad))
    assert f"{bad}:2 <interface>" in r.stderr and "no path" in r.stderr


def test_same_version_twice_and_remove(tmp_path, wecube_fixtures):
    reg = tmp_path / "reg"
    src = str(wecube_fixtures / "capacity.register.xml")
    assert wecube("plugins", "register", src, "--version", "1", registry=reg).returncode == 0
    before = snapshot(reg)
    r = wecube("plugins", "register", src, "--version", "1", registry=reg)
    assert r.returncode != 0 and "--replace" in r.stderr
    assert snapshot(reg) == before
    assert wecube("plugins", "register", src, "--version", "1", "--replace", registry=reg).returncode == 0
    assert wecube("plugins", "register", src, "--version", "2", registry=reg).returncode == 0
    assert wecube("plugins", "remove", "capacity@1", registry=reg).returncode == 0
    rows = json.loads(wecube("plugins", "list", "--json", registry=reg).stdout)
    assert {r["version"] for r in rows} == {"2"}
    assert wecube("plugins", "remove", "capacity@1", registry=reg).returncode != 0


def test_zip_package_registers(tmp_path, wecube_fixtures):
    import zipfile

    z = tmp_path / "capacity-v1.0.0.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(wecube_fixtures / "capacity.register.xml", "register.xml")
        zf.writestr("image.tar", b"\0" * 100)
    r = wecube("plugins", "register", str(z), "--version", "v1.0.0", registry=tmp_path / "reg")
    assert r.returncode == 0, r.stderr
    assert shutil.which(WECUBE)


@pytest.mark.parametrize(
    ("attrs", "what"),
    [
        ('name=".." version="9.9.9"', "package name"),
        ('name=".hidden" version="1.0"', "package name"),
        ('name="demo" version=".."', "package version"),
    ],
)
def test_manifest_names_cannot_leave_the_registry(tmp_path, attrs, what):
    reg = tmp_path / "reg"
    bad = tmp_path / "register.xml"
    bad.write_text(
        f'<package {attrs}>\n<plugins><plugin name="p"><interface action="a" path="/a"/></plugin></plugins></package>'
    )
    r = wecube("plugins", "register", str(bad), registry=reg)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{bad}:1 <package>" in r.stderr and what in r.stderr and "not starting with a dot" in r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["register.xml"]


def test_interface_path_with_dot_segments_is_refused(tmp_path):
    bad = tmp_path / "register.xml"
    bad.write_text(
        '<package name="demo" version="1">\n<plugins><plugin name="p">\n'
        '<interface action="a" path="/x/../../admin/reset"/></plugin></plugins></package>'
    )
    r = wecube("plugins", "register", str(bad), registry=tmp_path / "reg")
    assert r.returncode == 1
    assert f"{bad}:3 <interface>" in r.stderr and "'..' segment" in r.stderr
    assert not (tmp_path / "reg").exists()


# The CLI's main in a process of its own that waits for a common instant first, so that two of
# them register at the same moment instead of some ten milliseconds apart (process start-up).
AT_THE_SAME_TIME = (
    "import sys, time\n"
    "from airflow_wecube.cli import main\n"
    "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def test_concurrent_registrations_exactly_one_wins(tmp_path, wecube_fixtures):
    """Real concurrent CLI processes, registering the same package+version without --replace."""
    import time

    src = str(wecube_fixtures / "open-monitor.register.xml")
    for attempt in range(20):
        reg = tmp_path / f"reg{attempt}"
        start = f"{time.time() + 1.5:.3f}"
        cmd = [
            sys.executable,
            "-c",
            AT_THE_SAME_TIME,
            start,
            "plugins",
            "register",
            src,
            "--version",
            "1.0",
            "--registry",
            str(reg),
        ]
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            results.append((p.returncode, out, err))
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 1], f"try {attempt}: {results}"
        loser = next(err for code, _, err in results if code == 1)
        assert "already registered" in loser and "--replace" in loser
        assert [p.name for p in (reg / "monitor").iterdir()] == ["1.0.json"]


@pytest.mark.parametrize("name", ["taskman", "open-monitor", "capacity", "saltstack"])
def test_validate_source_manifest_with_placeholder_notes_it(tmp_path, wecube_fixtures, name):
    """The manifest in a plugin's repository, before its build fills the version in."""
    src = wecube_fixtures / f"{name}.register.xml"
    r = wecube("plugins", "validate", str(src), registry=tmp_path / "reg")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok: ") and "{{PLUGIN_VERSION}}" in r.stdout and "interfaces" in r.stdout
    assert f"note: {src}:2 <package>: package version is the build placeholder {{{{PLUGIN_VERSION}}}}" in r.stderr
    assert "--version" in r.stderr
    assert not (tmp_path / "reg").exists()
    # with --version the given version is checked and shown, without a note
    r = wecube("plugins", "validate", str(src), "--version", "2.1.0")
    assert r.returncode == 0 and " 2.1.0: " in r.stdout and "note:" not in r.stderr


def test_validate_placeholder_still_reports_other_errors(tmp_path):
    bad = tmp_path / "manifest.yaml"
    bad.write_text(
        "package: demo\nversion: '{{PLUGIN_VERSION}}'\nplugins:\n"
        "  - name: p\n    interfaces:\n      - {action: a, path: no-slash}\n"
    )
    r = wecube("plugins", "validate", str(bad))
    assert r.returncode == 1 and "must start with '/'" in r.stderr and f"{bad}:6" in r.stderr
    bad.write_text(
        "package: demo\nversion: '{{PLUGIN_VERSION}}'\nplugins:\n"
        "  - name: p\n    interfaces:\n      - {action: a, path: /a}\n"
    )
    r = wecube("plugins", "validate", str(bad))
    assert r.returncode == 0 and f"note: {bad}:2 <version>" in r.stderr
    r = wecube("plugins", "register", str(bad), registry=tmp_path / "reg")
    assert r.returncode == 1 and "--version" in r.stderr and not (tmp_path / "reg").exists()


def test_validate_placeholder_in_a_package_zip(tmp_path, wecube_fixtures):
    import zipfile

    z = tmp_path / "capacity.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(wecube_fixtures / "capacity.register.xml", "register.xml")
    r = wecube("plugins", "validate", str(z))
    assert r.returncode == 0 and "ok: capacity {{PLUGIN_VERSION}}" in r.stdout
    assert f"note: {z}!register.xml:2 <package>" in r.stderr


# -- OpenAPI documents ---------------------------------------------------------------------------------


def test_openapi_register_list_show_versions_remove(tmp_path):
    from tests.fixtures.openapi import TICKETS

    doc = tmp_path / "api.yaml"
    doc.write_text(TICKETS)
    reg = tmp_path / "reg"
    r = wecube("plugins", "validate", str(doc), "--package", "tickets", registry=reg)
    assert r.returncode == 0 and "ok: tickets 2.3.0: 3 plugins, 4 interfaces" in r.stdout, r.stderr
    assert not reg.exists()
    r = wecube("plugins", "register", str(doc), "--package", "tickets", registry=reg)
    assert r.returncode == 0 and "registered tickets 2.3.0 (4 interfaces)" in r.stdout, r.stderr
    r = wecube("plugins", "register", str(doc), "--package", "tickets", "--version", "2.4.0", registry=reg)
    assert r.returncode == 0, r.stderr
    rows = json.loads(wecube("plugins", "list", "--json", "--all-versions", registry=reg).stdout)
    assert {(row["service"], row["version"], row["protocol"]) for row in rows} >= {
        ("tickets/tickets/getTicket", "2.3.0", "rest"),
        ("tickets/tickets/getTicket", "2.4.0", "rest"),
    }
    text = wecube("plugins", "list", registry=reg).stdout
    assert "tickets/tickets/getTicket" in text and " rest " in text and "2.4.0" in text
    show = wecube("plugins", "show", "tickets@2.3.0/tickets/getTicket", registry=reg)
    assert show.returncode == 0, show.stderr
    assert "protocol=rest" in show.stdout and "auth=apiKey (header X-API-Key)" in show.stdout
    assert "id" in show.stdout and "in=path" in show.stdout and "type=integer" in show.stdout
    listing = wecube("plugins", "show", "tickets/api/get_tickets", registry=reg).stdout
    assert "enum=open|closed" in listing and "default=20" in listing
    r = wecube("plugins", "remove", "tickets@2.3.0", registry=reg)
    assert r.returncode == 0 and "removed tickets 2.3.0" in r.stdout


@pytest.mark.parametrize(
    "text, message",
    [
        ("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "convert it to OpenAPI 3"),
        ("openapi: 3.0.0\ninfo: {title: t, version: '1'}\nx: &a [1]\ny: *a\npaths: {}\n", "bad.yaml:4: YAML aliases"),
        (
            "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a: {get: {operationId: x}}\n"
            "  /b: {get: {operationId: x}}\n",
            "duplicate operationId 'x'",
        ),
    ],
)
def test_bad_openapi_document_leaves_registry_unchanged(tmp_path, text, message):
    reg = tmp_path / "reg"
    good = tmp_path / "good.yaml"
    good.write_text("openapi: 3.1.0\ninfo: {title: good, version: '1'}\npaths: {/p: {get: {operationId: p}}}\n")
    assert wecube("plugins", "register", str(good), registry=reg).returncode == 0
    before = snapshot(reg)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = wecube("plugins", "register", str(bad), "--package", "good", "--version", "2", registry=reg)
    assert r.returncode != 0
    assert message in r.stderr
    assert snapshot(reg) == before


def test_show_marks_the_inputs_the_platform_fills(tmp_path, wecube_fixtures):
    """taskman's real manifest: the callback URL and procInstId are filled by the platform; isDraftStatus
    is a context name Airflow does not know, so the author must pass it."""
    reg = tmp_path / "reg"
    r = wecube("plugins", "register", str(wecube_fixtures / "taskman.register.xml"), "--version", "1.0.0", registry=reg)
    assert r.returncode == 0, r.stderr
    show = wecube("plugins", "show", "taskman/task/create-custom", registry=reg)
    lines = {line.split()[0]: line for line in show.stdout.splitlines()[3:] if line.startswith("    ")}
    assert "filled-by-platform(system variable CALLBACK_URL)" in lines["callbackUrl"]
    assert "filled-by-platform(context: the DAG run" in lines["procInstId"]
    assert "filled-by-platform" not in lines["taskName"]
    data = json.loads(wecube("plugins", "show", "taskman/request/create", "--json", registry=reg).stdout)
    assert data["filled_by_platform"] == {
        "isDraftStatus": "context-unknown(pass it yourself)",
        "procInstId": "filled-by-platform(context: the DAG run: '<dag_id>/<run_id>')",
    }
