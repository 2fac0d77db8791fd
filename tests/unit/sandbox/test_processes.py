"""Process handling of the sandbox's deployed apps, on real processes and sockets (no server)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

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


def test_the_exit_code_of_a_child_is_read_even_when_the_watcher_reaped_it_first(tmp_path):
    # the crash race of CI stop 19: the child ended at once, the watcher reaped and forgot it before the
    # crash asked for its code, which then read 0 instead of 70
    store = Store(tmp_path / "sandbox.db")
    code = "import sys; sys.stdin.read(); sys.exit(70)"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    try:
        processes.adopt(child, store, "no-such-instance", "app@h")
        wait_exit = processes.exit_waiter(child.pid)
        child.stdin.close()  # now it ends
        deadline = time.monotonic() + 10
        while child.pid in processes._children:  # the watcher reaps it and takes it out
            assert time.monotonic() < deadline, "the watcher never saw the child end"
            time.sleep(0.01)
        assert wait_exit(5) == 70
    finally:
        child.kill()
        child.wait()
        store.close()


def test_the_waiter_of_a_process_that_runs_on_says_none():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert processes.exit_waiter(other.pid)(0.2) is None  # not our child, still running
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, "stopped"), (-15, "stopped"), (-2, "stopped"), (70, "failed"), (1, "failed"), (-9, "failed")],
)
def test_a_clean_stop_on_a_signal_is_not_a_crash(code, status):
    """Issue 25 item 4: the account service exits 0 on SIGTERM (demo-stop's); that was recorded crashed."""
    recorded, message = processes.end_record(123, code)
    assert recorded == status
    if status == "stopped":
        assert message == processes.SIGNAL_STOP_MESSAGE and message in processes.REVIVED_MESSAGES
    else:
        assert "crashed" in message and "123" in message
