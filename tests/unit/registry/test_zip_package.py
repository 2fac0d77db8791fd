from __future__ import annotations

import zipfile

import pytest

from airflow_wecube.exceptions import ManifestError
from airflow_wecube.registry import zip_package
from airflow_wecube.registry.zip_package import load_package_zip


def make_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_reads_only_register_xml(tmp_path, wecube_fixtures):
    xml = (wecube_fixtures / "capacity.register.xml").read_bytes()
    z = make_zip(tmp_path / "capacity-v1.0.0.zip", {"register.xml": xml, "image.tar": b"x" * 1000, "ui.zip": b"y"})
    pkg = load_package_zip(z, version="v1.0.0")
    assert pkg.name == "capacity" and pkg.version == "v1.0.0" and pkg.source_format == "zip"


@pytest.mark.parametrize("evil", ["../register.xml", "/etc/register.xml", "a/../../x.sql"])
def test_path_traversal_refused(tmp_path, evil, wecube_fixtures):
    xml = (wecube_fixtures / "capacity.register.xml").read_bytes()
    z = make_zip(tmp_path / "p.zip", {"register.xml": xml, evil: b"boom"})
    with pytest.raises(ManifestError, match="escapes"):
        load_package_zip(z, version="1")


def test_oversized_manifest_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(zip_package, "MAX_MANIFEST_BYTES", 1000)
    z = make_zip(tmp_path / "p.zip", {"register.xml": b"<package>" + b" " * 5000 + b"</package>"})
    with pytest.raises(ManifestError, match="refused"):
        load_package_zip(z, version="1")


def test_not_a_zip_and_missing_manifest(tmp_path):
    bad = tmp_path / "p.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ManifestError, match="not a readable zip"):
        load_package_zip(bad)
    z = make_zip(tmp_path / "q.zip", {"image.tar": b"x"})
    with pytest.raises(ManifestError, match="no register.xml"):
        load_package_zip(z)


def test_corrupt_member_is_a_clear_error(tmp_path, wecube_fixtures):
    xml = (wecube_fixtures / "capacity.register.xml").read_bytes()
    z = make_zip(tmp_path / "p.zip", {"register.xml": xml})
    raw = bytearray(z.read_bytes())
    at = 30 + len("register.xml") + 100  # past the local header: inside the deflated data
    raw[at : at + 16] = b"\x00" * 16
    z.write_bytes(bytes(raw))
    with pytest.raises(ManifestError, match="cannot read register.xml"):
        load_package_zip(z, version="1")


def test_encrypted_member_is_a_clear_error(tmp_path):
    z = make_zip(tmp_path / "p.zip", {"register.xml": b"<package/>"})
    raw = bytearray(z.read_bytes())
    # set the "encrypted" flag bit in the local and the central directory headers
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = raw.index(sig) + off
        raw[i] |= 0x01
    z.write_bytes(bytes(raw))
    with pytest.raises(ManifestError, match="cannot read register.xml"):
        load_package_zip(z, version="1")
