from __future__ import annotations

import json
import os

import pytest

from airflow_wecube.capacity.errors import StoreError
from airflow_wecube.capacity.store import ModelStore

from .synth import make_frame

PASSED = {"passed": True, "checks": []}
FAILED = {"passed": False, "checks": [{"name": "min_r2", "passed": False}]}


def _record(r2=0.9, gates=PASSED):
    return {"fit": {"r2": r2, "nan_p": float("nan")}, "gates": gates}


def test_versions_baseline_and_history(tmp_path):
    store = ModelStore(tmp_path)
    assert store.baseline(model="m") is None and store.versions("m") == []
    v1 = store.save_version("m", _record(), png=b"\x89PNG fake")
    v2 = store.save_version("m", _record(0.5, FAILED))
    assert store.versions("m") == [v1, v2]
    assert (
        store.load_version("m", v1)["plot"] == f"{v1}.png" and store.plot_path("m", v1).read_bytes() == b"\x89PNG fake"
    )
    assert store.load_version("m", v1)["fit"]["nan_p"] is None  # JSON has no NaN
    store.accept("m", v1)
    with pytest.raises(StoreError, match="gates did not pass"):
        store.accept("m", v2)
    assert store.baseline_version("m") == v1
    v3 = store.save_version("m", _record(0.95))
    store.accept("m", v3)
    assert store.baseline("m")["fit"]["r2"] == 0.95
    assert [h["version"] for h in store.baseline_history("m")] == [v1, v3]
    assert store.models() == ["m"]
    store.update_version("m", v2, drift={"found": True})
    assert store.load_version("m", v2)["drift"] == {"found": True}
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    store = ModelStore(tmp_path)
    v1 = store.save_version("m", _record())
    store.accept("m", v1)
    before = (tmp_path / "m" / "baseline.json").read_bytes()
    v2 = store.save_version("m", _record())

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.accept("m", v2)
    monkeypatch.undo()
    assert (tmp_path / "m" / "baseline.json").read_bytes() == before
    assert store.baseline_version("m") == v1
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_bad_names_and_missing_versions(tmp_path):
    store = ModelStore(tmp_path)
    with pytest.raises(StoreError, match="invalid model name"):
        store.save_version("../etc", _record())
    with pytest.raises(StoreError, match="no version"):
        store.load_version("m", "nope")
    with pytest.raises(StoreError, match="invalid version"):
        store.load_version("m", "../../x")
    (tmp_path / "m" / "versions").mkdir(parents=True)
    (tmp_path / "m" / "versions" / "broken.json").write_text("{not json")
    with pytest.raises(StoreError, match="cannot read"):
        store.load_version("m", "broken")
    with pytest.raises(StoreError, match="ObjectStoragePath"):
        ModelStore("s3://bucket/capacity")


def test_names_ending_in_a_newline_are_refused(tmp_path):
    store = ModelStore(tmp_path)
    with pytest.raises(StoreError, match="invalid model name"):
        store.save_version("m\n", _record())
    with pytest.raises(StoreError, match="invalid key"):
        store.write_frame("m", "run\n", make_frame(5))
    with pytest.raises(StoreError, match="invalid version"):
        store.plot_path("m", "v1\n")
    assert list(tmp_path.rglob("*")) == []
    # a staged file whose name ends in a newline (written by an older version) is not listed
    (tmp_path / "m" / "staging").mkdir(parents=True)
    (tmp_path / "m" / "staging" / "run\n.csv").write_text("x")
    assert store.staged_keys("m") == []


def test_pathlib_like_object_storage_root():
    """Any pathlib-like root works (here fsspec's in-memory filesystem through universal_pathlib)."""
    upath = pytest.importorskip("upath")
    root = upath.UPath("memory://capacity-test")
    store = ModelStore(root)
    assert not store.local
    v = store.save_version("m", _record(), png=b"png")
    store.accept("m", v)
    assert store.baseline_version("m") == v
    assert json.loads((root / "m" / "baseline.json").read_text())["version"] == v
    frame = make_frame(50)
    store.write_frame("m", "run1", frame)
    back = store.read_frame("m", "run1")
    assert back.index.equals(frame.index) and back.shape == frame.shape
    store.delete_frame("m", "run1")
    with pytest.raises(StoreError, match="no staged data"):
        store.read_frame("m", "run1")


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_staged_frames_are_listed_and_stale_ones_cleared(tmp_path, kind):
    if kind == "local":
        root = tmp_path
    else:
        root = pytest.importorskip("upath").UPath(f"memory://capacity-staging-{os.getpid()}")
    store = ModelStore(root)
    assert store.staged_keys("m") == [] and store.clear_staged("m") == []
    frame = make_frame(20)
    for key in ("old_run-0", "this_run-0", "this_run-1"):
        store.write_frame("m", key, frame)
    store.write_frame("other", "old_run-0", frame)
    assert store.staged_keys("m") == ["old_run-0", "this_run-0", "this_run-1"]
    assert store.clear_staged("m", keep=lambda k: k.startswith("this_run-")) == ["old_run-0"]
    assert store.staged_keys("m") == ["this_run-0", "this_run-1"]
    assert store.staged_keys("other") == ["old_run-0"]  # other models untouched
    assert store.read_frame("m", "this_run-1").shape == frame.shape
    assert store.clear_staged("m") == ["this_run-0", "this_run-1"] and store.staged_keys("m") == []


def test_leftovers_of_a_killed_write_are_cleaned_on_the_next_write(tmp_path):
    """Issue 16 item 8: a `.png.*.tmp` left by a writer killed mid-write stayed in the store for good."""
    import tempfile

    store = ModelStore(tmp_path)
    v = store.save_version("m", _record(), png=b"png")
    versions = tmp_path / "m" / "versions"
    # what atomic_write_bytes leaves when the process dies between mkstemp and the rename
    left = [
        tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        for folder, name in ((versions, f"{v}.png"), (versions, f"{v}.json"), (tmp_path / "m", "baseline.json"))
    ]
    for fd, _ in left:
        os.close(fd)
    keep = [versions / "notes.tmp", versions / ".other.txt.tmp"]  # not ours: untouched
    for path in keep:
        path.write_text("x")
    v2 = store.save_version("m", _record(), png=b"png")
    assert all(not os.path.exists(path) for _, path in left)
    assert all(path.exists() for path in keep)
    assert sorted(p.name for p in versions.iterdir() if p not in keep) == sorted(
        [f"{v}.json", f"{v}.png", f"{v2}.json", f"{v2}.png"]
    )
    # an update cleans them too
    fd, path = tempfile.mkstemp(dir=versions, prefix=f".{v}.json.", suffix=".tmp")
    os.close(fd)
    store.update_version("m", v, note="x")
    assert not os.path.exists(path)


def test_check_writable_probes_without_leaving_anything(tmp_path):
    store = ModelStore(tmp_path / "new" / "store")
    store.check_writable("m")  # creates only the root
    assert list((tmp_path / "new" / "store").iterdir()) == []
    store.save_version("m", _record())
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    store.check_writable("m")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot be written \\(a file, not a folder"):
        ModelStore(tmp_path / "file").check_writable("m")
    upath = pytest.importorskip("upath")
    mem = ModelStore(upath.UPath("memory://capacity-probe"))
    mem.check_writable("m")
    assert (
        not (upath.UPath("memory://capacity-probe") / "m" / "versions").exists()
        or list((upath.UPath("memory://capacity-probe") / "m" / "versions").iterdir()) == []
    )
