from __future__ import annotations

import re

import pytest

from airflow_wecube.exceptions import RegistryError
from airflow_wecube.registry import Registry, split_service
from airflow_wecube.registry.xml import load_register_xml


def pkg(version: str, path: str = "/a"):
    return load_register_xml(
        f"<package name='demo' version='{version}'><plugins><plugin name='p'>"
        f"<interface action='a' path='{path}'/></plugin></plugins></package>".encode()
    )


def test_versions_side_by_side_highest_wins(tmp_path):
    reg = Registry(tmp_path)
    for v in ("1.2.9", "1.2.10", "1.10.0", "v1.3.0"):
        reg.register(pkg(v, path=f"/{v}"))
    assert reg.packages() == {"demo": ["1.2.9", "1.2.10", "v1.3.0", "1.10.0"]}
    assert reg.service("demo/p/a").version == "1.10.0"
    assert reg.service("demo@1.2.10/p/a").path == "/1.2.10"
    assert reg.service("demo/p/a", version="1.2.9").path == "/1.2.9"


def test_same_version_twice_refused_unless_replace(tmp_path):
    reg = Registry(tmp_path)
    reg.register(pkg("1.0", "/old"))
    with pytest.raises(RegistryError, match="already registered.*--replace"):
        reg.register(pkg("1.0", "/new"))
    assert reg.service("demo/p/a").path == "/old"
    reg.register(pkg("1.0", "/new"), replace=True)
    assert reg.service("demo/p/a").path == "/new"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    reg = Registry(tmp_path)
    reg.register(pkg("1.0"))
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["1.0.json"]


def test_remove(tmp_path):
    reg = Registry(tmp_path)
    reg.register(pkg("1.0"))
    reg.register(pkg("2.0"))
    assert reg.remove("demo", "1.0") == ["1.0"]
    assert reg.packages() == {"demo": ["2.0"]}
    with pytest.raises(RegistryError, match="not registered"):
        reg.remove("demo", "1.0")
    assert reg.remove("demo") == ["2.0"]
    assert reg.packages() == {}


def test_unknown_lookups_are_clear(tmp_path):
    reg = Registry(tmp_path)
    with pytest.raises(RegistryError, match="not registered"):
        reg.service("nope/p/a")
    reg.register(pkg("1.0"))
    with pytest.raises(RegistryError, match="no service 'demo/p/b'.*demo/p/a"):
        reg.service("demo/p/b")
    with pytest.raises(RegistryError, match="no version '9'"):
        reg.service("demo@9/p/a")
    with pytest.raises(RegistryError, match="not a service name"):
        split_service("just-a-name")


def test_cache_sees_replacement(tmp_path):
    reg = Registry(tmp_path)
    reg.register(pkg("1.0", "/one"))
    assert reg.service("demo/p/a").path == "/one"
    reg.register(pkg("1.0", "/two"), replace=True)
    assert Registry(tmp_path).service("demo/p/a").path == "/two"


def test_corrupt_file_is_reported(tmp_path):
    reg = Registry(tmp_path)
    reg.register(pkg("1.0"))
    (tmp_path / "demo" / "1.0.json").write_text("{broken")
    with pytest.raises(RegistryError, match="corrupt"):
        reg.get("demo")


@pytest.mark.parametrize(
    ("name", "version"),
    [("..", "9.9.9"), (".hidden", "1.0"), ("demo", ".."), ("demo", "../../x"), ("a/b", "1.0"), ("m\n", "1.0")],
)
def test_store_refuses_paths_outside_its_folder(tmp_path, name, version):
    """Defence in depth: a package built without validation still cannot leave the registry."""
    root = tmp_path / "registry"
    reg = Registry(root)
    good = pkg("1.0")
    bad = good.model_construct(**{**dict(good), "name": name, "version": version})
    with pytest.raises(RegistryError, match=f"refused package (name|version) .*inside {re.escape(str(root))}"):
        reg.register(bad)
    assert sorted(p.name for p in tmp_path.rglob("*")) == []
    with pytest.raises(RegistryError):
        reg.get(name, version)
    with pytest.raises(RegistryError):
        reg.remove(name, version)


def test_store_refuses_a_package_folder_that_links_elsewhere(tmp_path):
    root = tmp_path / "registry"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "demo").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RegistryError, match="resolves outside"):
        Registry(root).register(pkg("1.0"))
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_services_built_once_per_registry_change(tmp_path):
    """A plugin call looks its service up every time: the Service objects are not rebuilt each time."""
    import os

    reg = Registry(tmp_path)
    path = reg.register(pkg("1.0", "/old"))
    first = reg.service("demo/p/a")
    assert reg.service("demo/p/a") is first
    assert reg.services()[0] is first
    reg.register(pkg("1.0", "/new"), replace=True)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1))  # a new mtime even on a coarse clock
    changed = reg.service("demo/p/a")
    assert changed is not first and changed.path == "/new"


def test_lookup_reads_only_the_package_folder_and_stays_inside_the_registry(tmp_path):
    reg = Registry(tmp_path / "reg")
    reg.register(pkg("1.0"))
    (tmp_path / "1.0.json").write_text("{}")  # beside the registry, not in it
    (tmp_path / "reg" / ".hidden").mkdir()
    (tmp_path / "reg" / ".hidden" / "1.0.json").write_text("{}")
    for name in ("..", ".hidden", ""):
        with pytest.raises(RegistryError, match="is not registered"):
            reg.get(name)
    assert reg.get("demo").version == "1.0"
