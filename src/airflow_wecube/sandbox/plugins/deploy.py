"""``deploy``: run the demo account service (:mod:`airflow_wecube.sandbox.account_service`) on
sandbox hosts as real processes.

``deploy/app/deploy``    ``host`` (guid or name), ``app``, ``version`` [, ``rate``, ``error_rate``,
                         ``health_timeout``]: stops the app's current process on that host, starts
                         the new version in ``<host workspace>/<app>`` on the host's first port no
                         other app uses (a new session, pid recorded), and waits for its
                         ``/health``. A failed health check fails the entity with the reason and
                         stops the process. The version that ran before is kept for rollback.
                         Deploying the version that already runs, healthy, changes nothing.
``deploy/app/stop``      ``host``, ``app``: stops the process (idempotent).
``deploy/app/rollback``  ``host``, ``app``: stops the current version and starts the previous one.

Every app is the account service under a name of the caller's choosing. Each (host, app) is an
``app_instance`` CMDB CI named ``<app>@<host>`` with the host reference, port, version, pid and
URLs (``metrics_url`` is what Prometheus scrapes).

The processes are children of the sandbox: :func:`stop_all` (a shutdown hook of the server, and
an :mod:`atexit` hook) stops them and marks them stopped when the sandbox shuts down; each process
also watches the sandbox's pid and exits if the sandbox dies without shutting down.

The sandbox plays the hosts, so its restart is the hosts' reboot: on start, :func:`revive_apps` starts
again every app that was running when the sandbox went away (shut down or killed), as a host's
service manager starts its enabled services at boot, and records the new pid. An app that cannot
start (its port taken, its health check failing) is marked ``failed`` with the reason; one stopped
with ``deploy/app/stop`` stays stopped. So the CMDB never shows a dead process as running, and the
Prometheus targets registered for the apps are scraped again.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_wecube.sandbox.account_service import MAX_RATE
from airflow_wecube.sandbox.plugin import Call, EntityError, SandboxPackage, present, text
from airflow_wecube.sandbox.plugins.cmdb import put_ci
from airflow_wecube.sandbox.plugins.host import find_host, port_is_free
from airflow_wecube.sandbox.plugins.network import name_input
from airflow_wecube.sandbox.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS deploy_instance (
    guid TEXT PRIMARY KEY,
    host_guid TEXT NOT NULL,
    host TEXT NOT NULL,
    app TEXT NOT NULL,
    port INTEGER NOT NULL,
    version TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    previous_version TEXT,
    previous_options TEXT,
    status TEXT NOT NULL,
    pid INTEGER,
    message TEXT NOT NULL DEFAULT '',
    rolled_back_from TEXT,
    last_request TEXT,
    updated_at REAL NOT NULL,
    UNIQUE (host_guid, app),
    UNIQUE (host_guid, port)
);
"""

SERVICE_MODULE = "airflow_wecube.sandbox.account_service"
#: default and largest seconds to wait for a new process's /health
HEALTH_TIMEOUT = 20.0
MAX_HEALTH_TIMEOUT = 120.0
#: this many answers other than 200 in a row fail the health check before the timeout
HEALTH_FAILURES = 3
#: seconds a process gets to exit on SIGTERM before SIGKILL
STOP_GRACE = 5.0
#: the message of an app stopped because the sandbox shut down (started again on the next start)
SHUTDOWN_MESSAGE = "sandbox shut down"
#: apps started again at once when the sandbox starts
REVIVE_WORKERS = 8

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")

package = SandboxPackage("deploy", schema=SCHEMA)
app_plugin = package.plugin("app")


# -- processes --------------------------------------------------------------------------------


@dataclass
class _Child:
    proc: subprocess.Popen
    db_path: Path
    guid: str
    ci_name: str


_children: dict[int, _Child] = {}
_children_lock = threading.Lock()
_host_locks: dict[str, threading.Lock] = {}


def _host_lock(host_guid: str) -> threading.Lock:
    with _children_lock:
        return _host_locks.setdefault(host_guid, threading.Lock())


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


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
        if not _cmdline(pid):
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


def _start(store: Store, guid: str, ci_name: str, folder: Path, port: int, version: str, options: dict) -> int:
    """Start the account service and wait for its health; the pid, or :class:`EntityError` (and no process)."""
    if not port_is_free(port):
        raise EntityError(f"port {port} on 127.0.0.1 is in use by another process; cannot start {ci_name}")
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "service.log"
    cmd = [sys.executable, "-m", SERVICE_MODULE, "--host", "127.0.0.1", "--port", str(port), "--version", version]
    cmd += ["--rate", f"{options.get('rate', 5.0):g}", "--error-rate", f"{options.get('error_rate', 0.0):g}"]
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
    with _children_lock:
        _children[proc.pid] = _Child(proc, store.path, guid, ci_name)
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


def stop_all() -> None:
    """Stop every account service this sandbox started and mark them stopped (at exit)."""
    with _children_lock:
        children = list(_children.values())
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
        try:
            with closing(sqlite3.connect(child.db_path, timeout=5, isolation_level=None)) as db:
                db.row_factory = sqlite3.Row
                db.execute("BEGIN IMMEDIATE")
                changed = db.execute(
                    "UPDATE deploy_instance SET status = 'stopped', pid = NULL, message = ?,"
                    " updated_at = ? WHERE guid = ? AND pid = ?",
                    (SHUTDOWN_MESSAGE, time.time(), child.guid, child.proc.pid),
                ).rowcount
                if changed:
                    put_ci(
                        db, "app_instance", child.ci_name, {"status": "stopped", "pid": None, "message": SHUTDOWN_MESSAGE}
                    )
                db.execute("COMMIT")
        except sqlite3.Error:  # pragma: no cover - the database went away first
            pass
    with _children_lock:
        _children.clear()


# uvicorn re-raises SIGTERM after its graceful shutdown, so atexit alone would not run: stop the
# apps in the server's lifespan shutdown, and at exit for any other way the process ends
package.on_shutdown(stop_all)
atexit.register(stop_all)


def revive_apps(store: Store) -> dict[str, str]:
    """At sandbox start: start again every app that was running when the sandbox went away.

    Those are the instances recorded ``running`` (the sandbox was killed: their processes exited
    with it) and those stopped with :data:`SHUTDOWN_MESSAGE`. A process of the previous sandbox still
    alive (it exits within a second of its parent) is stopped first. Each app starts on its port
    with its version and options, and is recorded ``running`` with its new pid, or ``failed`` with
    the reason. Runs before the server answers any request.

    :return: ``{"<app>@<host>": "running" | "failed"}`` for the apps it tried
    """
    from concurrent.futures import ThreadPoolExecutor

    rows = store.connection().execute(
        "SELECT d.*, h.workspace FROM deploy_instance d JOIN host_host h ON h.guid = d.host_guid"
        " WHERE d.status = 'running' OR (d.status = 'stopped' AND d.message = ?) ORDER BY d.host, d.app",
        (SHUTDOWN_MESSAGE,),
    ).fetchall()

    def revive(row: sqlite3.Row) -> tuple[str, str]:
        ci_name = f"{row['app']}@{row['host']}"
        with _host_lock(row["host_guid"]):
            stop_process(row["pid"], row["port"])
            try:
                pid = _start(
                    store, row["guid"], ci_name, Path(row["workspace"]) / row["app"], row["port"], row["version"],
                    json.loads(row["options"] or "{}"),
                )
            except EntityError as e:
                _record(
                    store, row["guid"], status="failed", pid=None,
                    message=f"could not start {row['version']} again when the sandbox started: {e}",
                )
                return ci_name, "failed"
            _record(store, row["guid"], status="running", pid=pid, message="")
            return ci_name, "running"

    if not rows:
        return {}
    with ThreadPoolExecutor(max_workers=min(REVIVE_WORKERS, len(rows))) as pool:
        done = dict(pool.map(revive, rows))
    print(
        "sandbox: started again the apps that ran before: "
        + ", ".join(f"{name} {state}" for name, state in done.items()),
        file=sys.stderr,
        flush=True,
    )
    return done


package.on_startup(revive_apps)


# -- records ----------------------------------------------------------------------------------


def _options(entity: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    bounds = (("rate", 0.0, MAX_RATE), ("error_rate", 0.0, 1.0), ("health_timeout", 1.0, MAX_HEALTH_TIMEOUT))
    for name, low, high in bounds:
        if present(entity.get(name)):
            try:
                value = float(str(entity[name]).strip())
            except ValueError:
                raise EntityError(f"input {name} must be a number, got {entity[name]!r}") from None
            if not low <= value <= high:
                raise EntityError(f"input {name} must be between {low:g} and {high:g}, got {value:g}")
            out[name] = value
    return out


def _run_options(options: dict) -> dict:
    """What changes the running process (the health timeout does not)."""
    return {"rate": options.get("rate", 5.0), "error_rate": options.get("error_rate", 0.0)}


def _version(entity: dict[str, Any]) -> str:
    value = text(entity, "version").strip()
    if not VERSION_RE.match(value):
        raise EntityError(f"input version must be 1-64 letters, digits, '.', '_', '+' or '-', got {value!r}")
    return value


def _output(row: Any, changed: bool, **extra: Any) -> dict[str, Any]:
    url = f"http://127.0.0.1:{row['port']}"
    return {
        "guid": row["guid"],
        "host_guid": row["host_guid"],
        "host": row["host"],
        "app": row["app"],
        "version": row["version"],
        "previous_version": row["previous_version"] or "",
        "status": row["status"],
        "port": row["port"],
        "pid": row["pid"] or "",
        "url": url,
        "health_url": f"{url}/health",
        "metrics_url": f"{url}/metrics",
        "target": f"127.0.0.1:{row['port']}",
        "changed": "Y" if changed else "N",
        **extra,
    }


def _record(store: Store, guid: str, **values: Any) -> sqlite3.Row:
    """Update the instance row and its CI together."""
    values["updated_at"] = time.time()
    with store.transaction() as db:
        sets = ", ".join(f"{k} = ?" for k in values)
        db.execute(f"UPDATE deploy_instance SET {sets} WHERE guid = ?", (*values.values(), guid))  # noqa: S608
        row = db.execute("SELECT * FROM deploy_instance WHERE guid = ?", (guid,)).fetchone()
        out = _output(row, False)
        put_ci(
            db,
            "app_instance",
            f"{row['app']}@{row['host']}",
            {
                "app": row["app"],
                "host": row["host"],
                "host_guid": row["host_guid"],
                "version": row["version"],
                "previous_version": row["previous_version"],
                "status": row["status"],
                "port": row["port"],
                "pid": row["pid"],
                "url": out["url"],
                "health_url": out["health_url"],
                "metrics_url": out["metrics_url"],
                "target": out["target"],
                "message": row["message"] or None,
            },
        )
    return row


def _instance(store: Store, host: Any, app: str) -> sqlite3.Row:
    """The (host, app) instance row, created (status ``new``) on the first free port of the host."""
    with store.transaction() as db:
        row = db.execute(
            "SELECT * FROM deploy_instance WHERE host_guid = ? AND app = ?", (host["guid"], app)
        ).fetchone()
        if row is not None:
            return row
        used = {r["port"] for r in db.execute("SELECT port FROM deploy_instance WHERE host_guid = ?", (host["guid"],))}
        ports = range(host["port_base"], host["port_base"] + host["port_count"])
        port = next((p for p in ports if p not in used), None)
        if port is None:
            raise EntityError(
                f"host {host['name']} has no free port left for app {app}: its ports {ports.start}-{ports.stop - 1}"
                f" are used by {len(used)} app(s)"
            )
        attributes = {"app": app, "host": host["name"], "host_guid": host["guid"], "status": "new"}
        ci, _ = put_ci(db, "app_instance", f"{app}@{host['name']}", attributes)
        db.execute(
            "INSERT INTO deploy_instance (guid, host_guid, host, app, port, version, status, updated_at)"
            " VALUES (?, ?, ?, ?, ?, '', 'new', ?)",
            (ci["guid"], host["guid"], host["name"], app, port, time.time()),
        )
        return db.execute("SELECT * FROM deploy_instance WHERE guid = ?", (ci["guid"],)).fetchone()


def _target(call: Call, entity: dict[str, Any]) -> tuple[Any, str]:
    ref = text(entity, "host").strip()
    app = name_input(entity, "app")
    host = find_host(call.store.connection(), ref)
    return host, app


def _existing_instance(store: Store, host: Any, app: str) -> sqlite3.Row:
    """The app's row on the host; an entity error when it was never deployed there."""
    row = store.connection().execute(
        "SELECT * FROM deploy_instance WHERE host_guid = ? AND app = ?", (host["guid"], app)
    ).fetchone()
    if row is None:
        raise EntityError(f"app {app} was never deployed on host {host['name']}")
    return row


# -- interfaces -------------------------------------------------------------------------------


@app_plugin.entity("deploy")
def deploy(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Run ``version`` of ``app`` on ``host``; the version it replaces is kept for rollback."""
    host, app = _target(call, entity)
    version = _version(entity)
    options = _options(entity)
    with _host_lock(host["guid"]):
        row = _instance(call.store, host, app)
        ci_name = f"{app}@{host['name']}"
        current_opts = json.loads(row["options"] or "{}")
        if (
            row["status"] == "running"
            and row["version"] == version
            and _run_options(current_opts) == _run_options({**current_opts, **options})
            and is_running(row["pid"], row["port"])
            and healthy(row["port"], version)[0]
        ):
            return _output(row, False)
        run_options = {**(current_opts if row["version"] == version else {}), **options}
        # what to roll back to: the version that served until now (a failed one is not kept)
        if row["status"] in ("running", "stopped") and row["version"] and row["version"] != version:
            previous, previous_opts = row["version"], row["options"]
        else:
            previous, previous_opts = row["previous_version"], row["previous_options"]
        stop_process(row["pid"], row["port"])
        folder = Path(host["workspace"]) / app
        try:
            pid = _start(call.store, row["guid"], ci_name, folder, row["port"], version, run_options)
        except EntityError as e:
            _record(
                call.store, row["guid"], version=version, options=json.dumps(run_options), status="failed", pid=None,
                previous_version=previous, previous_options=previous_opts, message=str(e),
                last_request=f"{call.request_id}:{entity.get('callbackParameter')}",
            )
            raise
        row = _record(
            call.store, row["guid"], version=version, options=json.dumps(run_options), status="running", pid=pid,
            previous_version=previous, previous_options=previous_opts, message="",
            last_request=f"{call.request_id}:{entity.get('callbackParameter')}",
        )
        return _output(row, True)


@app_plugin.entity("stop")
def stop(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Stop the app's process on the host; stopping a stopped app changes nothing."""
    host, app = _target(call, entity)
    with _host_lock(host["guid"]):
        row = _existing_instance(call.store, host, app)
        was_running = stop_process(row["pid"], row["port"])
        changed = was_running or row["status"] == "running"
        status = row["status"] if row["status"] in ("failed", "new") and not was_running else "stopped"
        message = "stopped" if changed else row["message"]
        row = _record(call.store, row["guid"], status=status, pid=None, message=message)
        return _output(row, changed)


@app_plugin.entity("rollback")
def rollback(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Stop the current version and start the previous one."""
    host, app = _target(call, entity)
    marker = f"{call.request_id}:{entity.get('callbackParameter')}"
    with _host_lock(host["guid"]):
        row = _existing_instance(call.store, host, app)
        if not row["previous_version"]:
            # a retry of the rollback that already happened answers the same
            if row["last_request"] == marker and row["status"] == "running" and is_running(row["pid"], row["port"]):
                return _output(row, False, rolled_back_from=row["rolled_back_from"] or "")
            raise EntityError(f"app {app} on host {host['name']} has no previous version to roll back to")
        target, target_opts = row["previous_version"], json.loads(row["previous_options"] or "{}")
        from_version = row["version"]
        stop_process(row["pid"], row["port"])
        try:
            pid = _start(
                call.store, row["guid"], f"{app}@{host['name']}", Path(host["workspace"]) / app, row["port"], target,
                target_opts,
            )
        except EntityError as e:
            _record(call.store, row["guid"], status="failed", pid=None, message=f"rollback to {target} failed: {e}")
            raise EntityError(f"rollback of {app} on host {host['name']} to {target} failed: {e}") from None
        row = _record(
            call.store, row["guid"], version=target, options=json.dumps(target_opts), status="running", pid=pid,
            previous_version=None, previous_options=None, message="", rolled_back_from=from_version,
            last_request=marker,
        )
        return _output(row, True, rolled_back_from=from_version)


def stop_host_apps(store: Store, host_guid: str) -> list[str]:
    """Stop every app on a host being destroyed and forget them; the names of those that ran."""
    stopped = []
    with _host_lock(host_guid):
        rows = store.connection().execute("SELECT * FROM deploy_instance WHERE host_guid = ?", (host_guid,)).fetchall()
        for row in rows:
            if stop_process(row["pid"], row["port"]):
                stopped.append(row["app"])
            with store.transaction() as db:
                db.execute("DELETE FROM deploy_instance WHERE guid = ?", (row["guid"],))
                put_ci(db, "app_instance", f"{row['app']}@{row['host']}", {"status": "destroyed", "pid": None})
    return stopped
