"""The app factory, not an import, registers the sandbox's process-wide clean-up."""

from __future__ import annotations

import subprocess
import sys

# stop_all is wrapped before the app module binds it, so the output shows each time it runs at exit
CODE = """
import atexit, sys
from airflow_wecube.sandbox import processes
original = processes.stop_all
def stop_all():
    print("stop_all ran", flush=True)
    original()
processes.stop_all = stop_all
from airflow_wecube.sandbox import app
base = atexit._ncallbacks()
app.create_app(sys.argv[1] + "/one.db")
one = atexit._ncallbacks() - base
app.create_app(sys.argv[1] + "/two.db")
print("registered", one, atexit._ncallbacks() - base, flush=True)
"""


def test_create_app_registers_stop_all_at_exit_once(tmp_path):
    done = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # one callback after the first app, still one after the second; at exit it runs once
    assert done.stdout.splitlines() == ["registered 1 1", "stop_all ran"]
