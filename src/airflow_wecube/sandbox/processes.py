"""The account service processes the ``deploy`` plugin runs on sandbox hosts.

Each app is a child process of the sandbox in its own session (so its whole process group can be
stopped), remembered here by pid with the sandbox database and the ``deploy_instance`` row it runs
for. :func:`stop_process` never stops a process it did not start: a pid that is not one of the
children must be an account service listening on the expected port (a reused pid is left alone).

:func:`stop_all` stops every child and marks its instance stopped with :data:`SHUTDOWN_MESSAGE`
(started again on the next start): the ``deploy`` package runs it at server shutdown and the app
factory (:func:`airflow_wecube.sandbox.app.create_app`) registers it with :mod:`atexit`; nothing is
registered at import. Each process also watches the sandbox's pid and exits if the sandbox dies
without shutting down.

A process that ends without the sandbox asking is noticed at once by a watcher thread per child,
which records the end in the database and the CMDB (pid cleared), so neither claims that a dead app
runs. A crash (``POST /crash``, a bug, SIGKILL: any other exit) marks the instance ``failed`` with
the exit code. A clean stop asked from outside (SIGTERM or SIGINT: the app exits 0) is not a crash:
the instance is ``stopped`` with :data:`SIGNAL_STOP_MESSAGE` and started again on the next start,
like one stopped by the sandbox's shutdown. ``make demo-stop`` signals the sandbox and its apps at
once, so an app may end before the sandbox's shutdown reaches it; that stop must not read as a crash
(docs/demo.md). The watcher takes the host's lock first, so a deploy that is recording the process
as running finishes before the watcher records its end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from airflow_wecube.sandbox.plugin import EntityError
from airflow_wecube.sandbox.plugins.app_options import service_args
from airflow_wecube.sandbox.plugins.cmdb import put_ci
from airflow_wecube.sandbox.store import Store

SERVICE_MODULE = "airflow_wecube.sandbox.account_service"
#: default seconds to wait for a new process's /health
HEALTH_TIMEOUT = 20.0
#: this many answers other than 200 in a row fail the health check before the timeout
HEALTH_FAILURES = 3
#: seconds a process gets to exit on SIGTERM before SIGKILL
STOP_GRACE = 5.0
#: the message of an app stopped because the sandbox shut down (started again on the next start)
SHUTDOWN_MESSAGE = "sandbox shut down"
#: the message of an app that a signal from outside the sandbox stopped cleanly (started again on the next start)
SIGNAL_STOP_MESSAGE = "stopped by a signal from outside the sandbox (not a crash); started again with the sandbox"
#: the messages of the instances :func:`~airflow_wecube.sandbox.plugins.deploy.revive_apps` starts again
REVIVED_MESSAGES = (SHUTDOWN_MESSAGE, SIGNAL_STOP_MESSAGE)
#: exit codes of a clean stop on a signal: the account service exits 0 on SIGTERM/SIGINT; one killed by
#: either before its handler is installed ends by that signal
CLEAN_STOP_CODES = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


@dataclass
class _Child:
    proc: subprocess.Popen
    db_path: Path
    guid: str
    ci_name: str
    stopping: bool = False  # its end is expected (the sandbox shuts down): the watcher leaves it


_children: dict[int, _Child] = {}
_children_lock = threading.Lock()
_host_locks: dict[str, threading.Lock] = {}


def host_lock(host_guid: str) -> threading.Lock:
    with _children_lock:
        return _host_locks.setdefault(host_guid, threading.Lock())


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has ended). Read from its state, not its
    command line: that one is empty for a moment while a new process execs."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def is_running(pid: int | None, port: int) -> bool:
    """Whether ``pid`` is a live account service listening on ``port`` (never a reused pid)."""
    if not pid:
        return False
    with _children_lock:
        child = _children.get(pid)
    if child is not None:
        return child.proc.poll() is None
    args = _cmdline(pid).split(b"\0")
    return SERVICE_MODULE.encode() in args and str(port).encode() in args


def stop_process(pid: int | None, port: int) -> bool:
    """Stop the account service ``pid`` (its whole process group); ``True`` when one was running."""
    if not is_running(pid, port):
        with _children_lock:
            child = _children.pop(pid, None) if pid else None
        if child is not None:
            child.proc.wait(timeout=1)  # reap it
        return False
    with _children_lock:
        child = _children.pop(pid, None)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline:
        if child is not None:
            try:
                child.proc.wait(timeout=0.05)
                return True
            except subprocess.TimeoutExpired:
                continue
        if not _alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if child is not None:
        child.proc.wait(timeout=5)
    return True


def healthy(port: int, version: str, timeout: float = 2.0) -> tuple[bool, str]:
    """``(True, "")`` when ``/health`` answers 200 for ``version``, else ``(False, why)``."""
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback http only
            body = r.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as e:
        return False, f"GET {url} answered {e.code}: {e.read(500).decode(errors='replace').strip()}"
    except (OSError, ValueError) as e:
        return False, f"GET {url} failed: {e}"
    try:
        reported = json.loads(body).get("version")
    except (ValueError, AttributeError):
        return False, f"GET {url} answered something that is not the account service's JSON"
    if reported != version:
        return False, f"GET {url} is version {reported!r}, not {version!r}"
    return True, ""


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``127.0.0.1:port`` now (as the account service binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(store: Store, guid: str, ci_name: str, folder: Path, port: int, version: str, options: dict) -> int:
    """Start the account service and wait for its health; the pid, or :class:`EntityError` (and no process)."""
    if not port_is_free(port):
        raise EntityError(f"port {port} on 127.0.0.1 is in use by another process; cannot start {ci_name}")
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "service.log"
    cmd = [sys.executable, "-m", SERVICE_MODULE, "--host", "127.0.0.1", "--port", str(port), "--version", version]
    cmd += service_args(options)
    cmd += ["--watch-pid", str(os.getpid())]
    with log_path.open("ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {version} on port {port}\n".encode())
        log.flush()
        proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            cmd,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
    adopt(proc, store, guid, ci_name)
    timeout = float(options.get("health_timeout") or HEALTH_TIMEOUT)
    deadline = time.monotonic() + timeout
    failures, why = 0, "no answer yet"
    while True:
        code = proc.poll()
        if code is not None:
            stop_process(proc.pid, port)
            raise EntityError(
                f"{ci_name} version {version} exited with code {code} before it was healthy: {_tail(log_path)}"
            )
        ok, why = healthy(port, version, timeout=1.0)
        if ok:
            return proc.pid
        failures = failures + 1 if " answered " in why else 0
        if failures >= HEALTH_FAILURES or time.monotonic() > deadline:
            stop_process(proc.pid, port)
            waited = f"{HEALTH_FAILURES} checks" if failures >= HEALTH_FAILURES else f"{timeout:g}s"
            raise EntityError(
                f"health check of {ci_name} version {version} failed after {waited}: {why}; the process was stopped"
            )
        time.sleep(0.1)


def adopt(proc: subprocess.Popen, store: Store, guid: str, ci_name: str) -> None:
    """Remember ``proc`` as the process of instance ``guid`` and watch for its end."""
    child = _Child(proc, store.path, guid, ci_name)
    with _children_lock:
        _children[proc.pid] = child
    threading.Thread(target=_watch, args=(child,), name=f"watch-{proc.pid}", daemon=True).start()


def _mark(child: _Child, status: str, message: str) -> bool:
    """Record the end of ``child``'s process on its instance (only while the instance still names that pid)."""
    try:
        with closing(sqlite3.connect(child.db_path, timeout=10, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE")
            changed = db.execute(
                "UPDATE deploy_instance SET status = ?, pid = NULL, message = ?, updated_at = ?"
                " WHERE guid = ? AND pid = ?",
                (status, message, time.time(), child.guid, child.proc.pid),
            ).rowcount
            if changed:
                put_ci(db, "app_instance", child.ci_name, {"status": status, "pid": None, "message": message})
            db.execute("COMMIT")
            return bool(changed)
    except sqlite3.Error:  # pragma: no cover - the database went away first (the sandbox is shutting down)
        return False


def exit_message(pid: int, code: int) -> str:
    """Why an instance is ``failed`` after its process ended on its own."""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return f"process {pid} {how} without being stopped (crashed); deploy the app again to start it"


def end_record(pid: int, code: int) -> tuple[str, str]:
    """``(status, message)`` of an instance whose process ended without the sandbox asking: a clean stop
    on a signal is ``stopped`` (started again with the sandbox), anything else a crash, ``failed``."""
    if code in CLEAN_STOP_CODES:
        return "stopped", SIGNAL_STOP_MESSAGE
    return "failed", exit_message(pid, code)


def _watch(child: _Child) -> None:
    """Wait for the child's end; an end the sandbox did not ask for is recorded (a crash: failed)."""
    code = child.proc.wait()
    with _children_lock:
        if _children.get(child.proc.pid) is not child or child.stopping:
            return  # stopped on purpose (stop_process took it out first) or the sandbox shuts down
        del _children[child.proc.pid]
    try:
        with closing(sqlite3.connect(child.db_path, timeout=10)) as db:
            row = db.execute("SELECT host_guid FROM deploy_instance WHERE guid = ?", (child.guid,)).fetchone()
    except sqlite3.Error:  # pragma: no cover
        return
    if row is None:
        return
    status, message = end_record(child.proc.pid, code)
    with host_lock(row[0]):  # after a deploy that is recording this pid as running
        if _mark(child, status, message):
            print(f"sandbox: {child.ci_name}: process {child.proc.pid}: {message}", file=sys.stderr, flush=True)


def forget(pid: int | None) -> None:
    """Take ``pid`` out of the children (its end is recorded by the caller, not by the watcher)."""
    with _children_lock:
        if pid:
            _children.pop(pid, None)


def exit_waiter(pid: int) -> Callable[[float], int | None]:
    """Before making ``pid`` end: a function that waits up to its argument's seconds for that end and
    gives the exit code (``None`` if it runs on).

    Taken *before* the end is caused: the watcher thread reaps a child that ends and forgets it at once,
    so a lookup afterwards can miss it (a crash answered, then lost to the watcher, read as exit code 0).
    """
    with _children_lock:
        child = _children.get(pid)
    if child is not None:
        proc = child.proc

        def wait(timeout: float) -> int | None:
            try:
                return proc.wait(timeout=timeout)  # already reaped by the watcher: its returncode
            except subprocess.TimeoutExpired:
                return None

        return wait

    def wait_foreign(timeout: float) -> int | None:  # not our child (a sandbox restarted): no exit code to read
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return None if _alive(pid) else 0

    return wait_foreign


def stop_all() -> None:
    """Stop every account service this sandbox started and mark them stopped (at exit)."""
    with _children_lock:
        children = list(_children.values())
        for child in children:
            child.stopping = True
    for child in children:
        if child.proc.poll() is None:
            try:
                os.killpg(child.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_GRACE
    for child in children:
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.proc.wait(timeout=5)
        _mark(child, "stopped", SHUTDOWN_MESSAGE)
    with _children_lock:
        _children.clear()


def stop_host_apps(store: Store, host_guid: str) -> list[str]:
    """Stop every app on a host being destroyed and forget them; the names of those that ran."""
    stopped = []
    with host_lock(host_guid):
        rows = store.connection().execute("SELECT * FROM deploy_instance WHERE host_guid = ?", (host_guid,)).fetchall()
        for row in rows:
            if stop_process(row["pid"], row["port"]):
                stopped.append(row["app"])
            with store.transaction() as db:
                db.execute("DELETE FROM deploy_instance WHERE guid = ?", (row["guid"],))
                put_ci(db, "app_instance", f"{row['app']}@{row['host']}", {"status": "destroyed", "pid": None})
    return stopped
