"""The process store: versions side by side, atomic, refusing what would overwrite or escape."""

from __future__ import annotations

import pytest

from airflow_wecube.processes import ProcessError, ProcessStore, read_process_file
from tests.fixtures.paths import PROCESS_DATA


@pytest.fixture
def processes():
    return read_process_file(PROCESS_DATA / "v4_app_release.json")


def test_versions_side_by_side(tmp_path, processes):
    store = ProcessStore(tmp_path / "wecube_processes")
    main, sub = processes
    store.save([main, sub])
    v10 = main.model_copy(update={"version": "v10", "name": "ten"})
    v2 = main.model_copy(update={"version": "v2", "name": "two"})
    store.save([v10])
    store.save([v2])
    assert store.processes() == {"app_release": ["v1", "v2", "v10"], "host_check": ["v1"]}
    assert store.get("app_release").name == "ten"
    assert store.get("app_release", "v2").name == "two"
    assert [p.key for p in store.latest()] == ["app_release", "host_check"]
    assert store.remove("app_release", "v2") == ["v2"]
    assert store.remove("app_release") == ["v1", "v10"]
    assert not (tmp_path / "wecube_processes" / "app_release").exists()


def test_same_version_refused_unless_replace_and_nothing_written(tmp_path, processes):
    store = ProcessStore(tmp_path / "s")
    main, sub = processes
    store.save([main])
    before = (tmp_path / "s" / "app_release" / "v1.json").read_bytes()
    renamed = main.model_copy(update={"name": "renamed"})
    with pytest.raises(ProcessError, match="already stored: app_release v1 .*use --replace"):
        store.save([sub, renamed])
    assert store.processes() == {"app_release": ["v1"]}  # the sub-process was not written either
    assert (tmp_path / "s" / "app_release" / "v1.json").read_bytes() == before
    store.save([renamed], replace=True)
    assert store.get("app_release").name == "renamed"
    assert not [f for f in (tmp_path / "s").rglob("*") if f.name.endswith(".tmp")]


def test_unknown_and_corrupt(tmp_path, processes):
    store = ProcessStore(tmp_path / "s")
    with pytest.raises(ProcessError, match="is not stored"):
        store.get("nope")
    with pytest.raises(ProcessError, match="is not stored"):
        store.remove("..")
    store.save(processes[:1])
    (tmp_path / "s" / "app_release" / "v1.json").write_text("{}")
    with pytest.raises(ProcessError, match="corrupt"):
        store.get("app_release")


def test_cached_until_the_file_changes(tmp_path, processes):
    store = ProcessStore(tmp_path / "s")
    store.save(processes[:1])
    assert store.get("app_release") is store.get("app_release")
