"""airflow_wecube.util.files: atomic writes and the cross-process lock."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from airflow_wecube.util.files import atomic_create_bytes, atomic_write_text, locked


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("hard_links", [True, False])
def test_atomic_create_refuses_an_existing_file(tmp_path, monkeypatch, hard_links):
    if not hard_links:  # some network and FUSE file systems: the file lock does the same
        import os

        def no_link(src, dst):
            raise PermissionError(1, "Operation not permitted", src)

        monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "1.0.json"
    atomic_create_bytes(target, b"first")
    with pytest.raises(FileExistsError):
        atomic_create_bytes(target, b"second")
    assert target.read_bytes() == b"first"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["1.0.json"]


def test_lock_held_by_another_process_times_out_with_callers_error(tmp_path):
    target = tmp_path / "jobs.json"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from airflow_wecube.util.files import locked\nimport time\nwith locked({str(target)!r}):\n"
            "    print('held', flush=True)\n    time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        ran = []
        t = time.monotonic()
        with pytest.raises(LookupError, match="could not lock .*jobs.json within 0.3s; nothing was changed"):
            with locked(target, timeout=0.3, error=LookupError):
                ran.append(True)
        assert not ran and time.monotonic() - t < 5
    finally:
        holder.kill()
        holder.wait()
    with locked(target, timeout=5):  # free again once the holder is gone
        pass
