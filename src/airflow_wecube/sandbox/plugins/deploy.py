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

The processes are children of the sandbox, handled by :mod:`airflow_wecube.sandbox.processes`:
:func:`~airflow_wecube.sandbox.processes.stop_all` (a shutdown hook of this package, and an
:mod:`atexit` hook the app factory registers) stops them and marks them stopped when the sandbox
shuts down; each process also watches the sandbox's pid and exits if the sandbox dies without
shutting down.

The sandbox plays the hosts, so its restart is the hosts' reboot: on start, :func:`revive_apps` starts
again every app that was running when the sandbox went away (shut down or killed), as a host's
service manager starts its enabled services at boot, and records the new pid. An app that cannot
start (its port taken, its health check failing) is marked ``failed`` with the reason; one stopped
with ``deploy/app/stop`` stays stopped. So the CMDB never shows a dead process as running, and the
Prometheus targets registered for the apps are scraped again.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from airflow_wecube.sandbox.account_service import MAX_RATE
from airflow_wecube.sandbox.plugin import Call, EntityError, SandboxPackage, name_input, present, text
from airflow_wecube.sandbox.plugins.cmdb import put_ci
from airflow_wecube.sandbox.plugins.host import find_host
from airflow_wecube.sandbox.processes import (
    SHUTDOWN_MESSAGE,
    healthy,
    host_lock,
    is_running,
    start,
    stop_all,
    stop_process,
)
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

#: largest seconds to wait for a new process's /health (the default is processes.HEALTH_TIMEOUT)
MAX_HEALTH_TIMEOUT = 120.0
#: apps started again at once when the sandbox starts
REVIVE_WORKERS = 8

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")

package = SandboxPackage("deploy", schema=SCHEMA)
app_plugin = package.plugin("app")


# -- server start and shutdown: the hosts' reboot --------------------------------------------

# uvicorn re-raises SIGTERM after its graceful shutdown, so atexit alone would not run: stop the
# apps in the server's lifespan shutdown (the app factory adds the atexit hook for any other end)
package.on_shutdown(stop_all)


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

    rows = (
        store.connection()
        .execute(
            "SELECT d.*, h.workspace FROM deploy_instance d JOIN host_host h ON h.guid = d.host_guid"
            " WHERE d.status = 'running' OR (d.status = 'stopped' AND d.message = ?) ORDER BY d.host, d.app",
            (SHUTDOWN_MESSAGE,),
        )
        .fetchall()
    )

    def revive(row: sqlite3.Row) -> tuple[str, str]:
        ci_name = f"{row['app']}@{row['host']}"
        with host_lock(row["host_guid"]):
            stop_process(row["pid"], row["port"])
            try:
                pid = start(
                    store,
                    row["guid"],
                    ci_name,
                    Path(row["workspace"]) / row["app"],
                    row["port"],
                    row["version"],
                    json.loads(row["options"] or "{}"),
                )
            except EntityError as e:
                _record(
                    store,
                    row["guid"],
                    status="failed",
                    pid=None,
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
    row = (
        store.connection()
        .execute("SELECT * FROM deploy_instance WHERE host_guid = ? AND app = ?", (host["guid"], app))
        .fetchone()
    )
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
    with host_lock(host["guid"]):
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
            pid = start(call.store, row["guid"], ci_name, folder, row["port"], version, run_options)
        except EntityError as e:
            _record(
                call.store,
                row["guid"],
                version=version,
                options=json.dumps(run_options),
                status="failed",
                pid=None,
                previous_version=previous,
                previous_options=previous_opts,
                message=str(e),
                last_request=f"{call.request_id}:{entity.get('callbackParameter')}",
            )
            raise
        row = _record(
            call.store,
            row["guid"],
            version=version,
            options=json.dumps(run_options),
            status="running",
            pid=pid,
            previous_version=previous,
            previous_options=previous_opts,
            message="",
            last_request=f"{call.request_id}:{entity.get('callbackParameter')}",
        )
        return _output(row, True)


@app_plugin.entity("stop")
def stop(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Stop the app's process on the host; stopping a stopped app changes nothing."""
    host, app = _target(call, entity)
    with host_lock(host["guid"]):
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
    with host_lock(host["guid"]):
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
            pid = start(
                call.store,
                row["guid"],
                f"{app}@{host['name']}",
                Path(host["workspace"]) / app,
                row["port"],
                target,
                target_opts,
            )
        except EntityError as e:
            _record(call.store, row["guid"], status="failed", pid=None, message=f"rollback to {target} failed: {e}")
            raise EntityError(f"rollback of {app} on host {host['name']} to {target} failed: {e}") from None
        row = _record(
            call.store,
            row["guid"],
            version=target,
            options=json.dumps(target_opts),
            status="running",
            pid=pid,
            previous_version=None,
            previous_options=None,
            message="",
            rolled_back_from=from_version,
            last_request=marker,
        )
        return _output(row, True, rolled_back_from=from_version)
