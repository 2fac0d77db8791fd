"""airflow_wecube.files: atomic writes and the cross-process lock."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from airflow_wecube.files import atomic_write_text, locked


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_lock_held_by_another_process_times_out_with_callers_error(tmp_path):
    target = tmp_path / "jobs.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from airflow_wecube.files import locked\nimport time\nwith locked({str(target)!r}):\n    print('held', flush=True)\n    time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
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
