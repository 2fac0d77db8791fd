from __future__ import annotations

import pytest

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry.xml import load_register_xml

FIXTURES = ["taskman", "open-monitor", "capacity", "saltstack"]


def load(wecube_fixtures, name, version="1.2.3"):
    path = wecube_fixtures / f"{name}.register.xml"
    return load_register_xml(path.read_bytes(), source=str(path), version=version)


@pytest.mark.parametrize("name", FIXTURES)
def test_real_manifests_load(wecube_fixtures, name):
    package = load(wecube_fixtures, name)
    assert package.version == "1.2.3"
    services = package.services()
    assert services, "every real manifest declares interfaces"
    for svc in services.values():
        assert svc.interface.path.startswith("/")
        for p in svc.interface.inputs + svc.interface.outputs:
            assert p.name == p.name.strip() and p.name


def test_placeholder_version_needs_explicit_version(wecube_fixtures):
    path = wecube_fixtures / "taskman.register.xml"
    with pytest.raises(ManifestError, match=r"placeholder.*--version") as e:
        load_register_xml(path.read_bytes(), source=str(path))
    assert e.value.line == 2 and e.value.element == "package"


def test_taskman_details(wecube_fixtures):
    pkg = load(wecube_fixtures, "taskman")
    assert pkg.name == "taskman"
    assert [d.name for d in pkg.dependencies] == ["platform", "wecmdb"]
    assert any(s.name == "TASKMAN_MAIL_AUTH_PWD" for s in pkg.system_parameters)
    assert pkg.entities[0].name == "request" and pkg.entities[0].attributes[0].name == "id"
    assert {r.kind for r in pkg.resource_dependencies} == {"docker", "mysql", "s3"}
    create = pkg.services()["taskman/task/create-by-template"].interface
    assert create.is_async and create.type == "DYNAMICFORM"
    # parameter names written over several lines are stripped
    cb = next(p for p in create.inputs if p.name == "callbackUrl")
    assert cb.required and cb.mapping_type == "system_variable" and cb.mapping_system_variable_name == "CALLBACK_URL"


def test_open_monitor_duplicate_add_is_a_warning_and_both_addressable(wecube_fixtures):
    pkg = load(wecube_fixtures, "open-monitor")
    assert len(pkg.services()) == 54
    (warning,) = pkg.warnings()
    assert "monitor/snmp_exporter/add" in warning
    assert "/monitor/api/v1/agent/export/snmp/exporter/add" in warning
    assert "/monitor/api/v1/agent/export/snmp/exporter/delete" in warning
    services = pkg.services()
    assert services["monitor/snmp_exporter/add"].path.endswith("/exporter/add")
    assert services["monitor/snmp_exporter/add#2"].path.endswith("/exporter/delete")


def test_sensitive_and_multiple_flags(wecube_fixtures):
    pkg = load(wecube_fixtures, "saltstack")
    sensitive = [p.name for s in pkg.services().values() for p in s.interface.inputs if p.sensitive]
    assert sensitive, "saltstack declares sensitiveData=Y parameters"
    mon = load(wecube_fixtures, "open-monitor")
    assert any(p.multiple for s in mon.services().values() for p in s.interface.inputs)


def test_register_name_in_service_name():
    xml = b"""<package name="notify" version="1.0">
      <plugins>
        <plugin name="mail" registerName="ops"><interface action="send" path="/mail/ops"/></plugin>
        <plugin name="mail" registerName="dev"><interface action="send" path="/mail/dev"/></plugin>
      </plugins></package>"""
    pkg = load_register_xml(xml)
    assert set(pkg.services()) == {"notify/mail(ops)/send", "notify/mail(dev)/send"}
    assert pkg.warnings() == []


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<package name="evil" version="1"><plugins><plugin name="p"><interface action="a" path="/a">
<inputParameters><parameter>&xxe;</parameter></inputParameters></interface></plugin></plugins></package>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<package name="evil" version="&lol3;"><plugins/></package>"""


@pytest.mark.parametrize(
    "xml, match, line",
    [
        (XXE, "unsafe XML", None),
        (LAUGHS, "unsafe XML", None),
        (b"<package name='x' version='1'><plugins><plugin name='p'>\n<interface action='a'", "malformed XML", 2),
        (b"<plugins/>", "root element must be <package>", 1),
        (b"<package name='x' version='1'/>", "no <plugins>", 1),
        (
            b"<package name='x' version='1'><plugins><plugin name='p'>\n\n"
            b"<interface action='a'/></plugin></plugins></package>",
            "has no path",
            3,
        ),
        (
            b"<package name='x' version='1'><plugins><plugin name='p'><interface action='a' path='/a'>\n"
            b"<inputParameters><parameter required='maybe'>n</parameter></inputParameters>"
            b"</interface></plugin></plugins></package>",
            "expected Y or N",
            2,
        ),
        (
            b"<package name='x' version='1'><plugins><plugin name='p'><interface action='a' path='/a'>\n"
            b"<inputParameters><parameter datatype='float'>n</parameter></inputParameters>"
            b"</interface></plugin></plugins></package>",
            "datatype",
            2,
        ),
        (
            b"<package name='x' version='1'><plugins><plugin name='p'><interface action='a' path='/a'>"
            b"<inputParameters><parameter>  </parameter></inputParameters></interface></plugin></plugins></package>",
            "has no name",
            1,
        ),
        (
            b"<package name='x' version='1'><plugins><plugin name='p'><interface action='a' path='/a'>"
            b"<inputParameters><parameter>n</parameter><parameter>n</parameter></inputParameters></interface></plugin></plugins></package>",
            "declared twice: n",
            1,
        ),
        (b"<package name='../etc' version='1'><plugins/></package>", "name", 1),
    ],
)
def test_bad_xml_is_refused_with_location(xml, match, line):
    with pytest.raises(ManifestError, match=match) as e:
        load_register_xml(xml, source="bad.xml")
    assert "bad.xml" in str(e.value)
    if line is not None:
        assert e.value.line == line, str(e.value)
