"""Names that become registry paths and interface paths that become URLs, for every manifest kind."""

from __future__ import annotations

import zipfile

import pytest

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry import load_manifest


def xml(package="demo", version="1.0", plugin="p", path="/a") -> bytes:
    return (
        f'<package name="{package}" version="{version}">\n<plugins>\n<plugin name="{plugin}">\n'
        f'<interface action="a" path="{path}"/>\n</plugin></plugins></package>'
    ).encode()


def yaml_doc(package="demo", version="1.0", plugin="p", path="/a") -> bytes:
    import json

    # JSON strings are YAML strings: names with a newline or backslash survive as they are
    return (
        f"package: {json.dumps(package)}\nversion: {json.dumps(version)}\nplugins:\n"
        f"  - name: {json.dumps(plugin)}\n    interfaces:\n      - action: a\n        path: {json.dumps(path)}\n"
    ).encode()


def write(tmp_path, kind, **fields):
    """The manifest as a file of the given kind, loaded the way the CLI loads it."""
    if kind == "xml":
        p = tmp_path / "register.xml"
        p.write_bytes(xml(**fields))
    elif kind == "yaml":
        p = tmp_path / "manifest.yaml"
        p.write_bytes(yaml_doc(**fields))
    else:
        p = tmp_path / "pkg.zip"
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr("register.xml", xml(**fields))
    return p


KINDS = ["xml", "yaml", "zip"]
# XML normalises a newline in an attribute to a space and we strip attributes, so the newline
# cases matter for YAML (and for names given on the command line)
BAD_SEGMENTS = ["..", ".", ".hidden", "a/b", "a\\b", "../x"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", BAD_SEGMENTS)
def test_package_name_that_is_no_folder_name_is_refused(tmp_path, kind, name):
    path = write(tmp_path, kind, package=name)
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    msg = str(e.value)
    assert str(path) in msg and "package name" in msg and "letters, digits" in msg


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", BAD_SEGMENTS + [".1"])
def test_version_that_is_no_file_name_is_refused(tmp_path, kind, version):
    path = write(tmp_path, kind, version=version)
    with pytest.raises(ManifestError, match="package version") as e:
        load_manifest(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", ["..", ".", "a/b", "1.0\n"])
def test_version_given_on_the_command_line_is_checked_too(tmp_path, kind, version):
    path = write(tmp_path, kind, version="{{PLUGIN_VERSION}}")
    with pytest.raises(ManifestError, match="package version"):
        load_manifest(path, version=version)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("plugin", BAD_SEGMENTS)
def test_plugin_name_that_is_no_path_segment_is_refused(tmp_path, kind, plugin):
    path = write(tmp_path, kind, plugin=plugin)
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    msg = str(e.value)
    assert "plugin name" in msg and str(path) in msg
    if kind != "yaml":
        assert ":3 <plugin>" in msg  # the line and element at fault


@pytest.mark.parametrize("field", ["package", "version", "plugin"])
def test_yaml_name_ending_in_a_newline_is_refused(tmp_path, field):
    path = write(tmp_path, "yaml", **{field: "m\n"})
    with pytest.raises(ManifestError, match="newline"):
        load_manifest(path)


BAD_PATHS = [
    "/x/../../admin/reset",
    "/x/..",
    "/..",
    "/x/./y",
    "/x//y",
    "//evil.example/x",
    "/x/%2e%2e/%2E%2e/admin",
    "/x/.%2e/admin",
    "/x/%252e%252e/admin",
    "/x/..%2fadmin",
    "/x%2F..%2Fadmin",
    "/x/a%252fb",
    "/x/%5c../admin",
    "/x\\..\\admin",
    "/x/a\nb",
    "/x/%3f/../admin",
    "/x/..;/admin",
    "/x/.;a/admin",
    "x/y",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", BAD_PATHS)
def test_interface_path_that_leaves_the_base_path_is_refused(tmp_path, kind, bad):
    if kind != "yaml" and "\n" in bad:
        pytest.skip("XML turns a newline in an attribute into a space")
    path = write(tmp_path, kind, path=bad)
    with pytest.raises(ManifestError, match="interface path .* is refused") as e:
        load_manifest(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize(
    "good",
    ["/a", "/a/b/", "/monitor/api/v1/agent/export/snmp/exporter/add", "/a/.well-known/x", "/a/..b/c.d", "/a/%20b"],
)
def test_plain_paths_pass(good):
    from airflow_wecube.registry.models import interface_path_problem

    assert interface_path_problem(good) is None


@pytest.mark.parametrize("good", ["demo", "wecmdb", "v1.2.3", "1.0.0+build.5", "open-monitor", "a_b.c"])
def test_plain_names_pass(good):
    from airflow_wecube.registry.models import path_segment_problem

    assert path_segment_problem(good) is None


def test_real_manifests_still_load(wecube_fixtures):
    for path in sorted(wecube_fixtures.glob("*.register.xml")):
        assert load_manifest(path, version="1.0.0").services()
