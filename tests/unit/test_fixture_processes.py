"""The fixtures' process-group stop leaves no straggler behind (e.g. standalone's triggerer)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures.processes import _group_alive, stop_process_group

# a leader that exits on SIGTERM, and a child that ignores SIGTERM
SCRIPT = """
import signal, subprocess, sys, time
child = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('child', flush=True); time.sleep(60)"
)
subprocess.Popen([sys.executable, "-c", child])
time.sleep(60)
"""


def test_straggler_in_the_group_is_killed():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "child"
    stop_process_group(proc, grace=1)
    assert not _group_alive(proc.pid)
    assert proc.returncode is not None


def test_already_stopped_is_fine():
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    stop_process_group(proc)
    assert os.getpid()  # nothing raised
