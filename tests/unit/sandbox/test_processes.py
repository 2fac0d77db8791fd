"""Process handling of the sandbox's deployed apps, on real processes and sockets (no server)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from airflow_wecube.sandbox import processes
from airflow_wecube.sandbox.plugin import EntityError
from airflow_wecube.sandbox.store import Store


def _listening() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_port_is_free_sees_a_listener():
    with _listening() as s:
        port = s.getsockname()[1]
        assert not processes.port_is_free(port)
    assert processes.port_is_free(port)


def test_a_pid_that_is_not_an_account_service_is_never_stopped():
    # a live process the sandbox did not start (as a reused pid would be): left alone
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert not processes.is_running(other.pid, 20000)
        assert processes.stop_process(other.pid, 20000) is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
    assert not processes.is_running(None, 20000)
    assert not processes.is_running(os.getpid(), 20000)


def test_healthy_says_why_not():
    with _listening() as s:
        port = s.getsockname()[1]
    ok, why = processes.healthy(port, "1.0", timeout=1.0)
    assert not ok and why.startswith(f"GET http://127.0.0.1:{port}/health failed:")


def test_start_refuses_a_taken_port_and_starts_nothing(tmp_path):
    store = Store(tmp_path / "sandbox.db")
    try:
        with _listening() as s:
            port = s.getsockname()[1]
            message = f"port {port} on 127.0.0.1 is in use by another process; cannot start app@h"
            with pytest.raises(EntityError, match=re.escape(message)):
                processes.start(store, "g", "app@h", tmp_path / "app", port, "1.0", {})
        assert not (tmp_path / "app").exists()
    finally:
        store.close()
