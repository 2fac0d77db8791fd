"""``deploy``: run the demo account service (:mod:`airflow_wecube.sandbox.account_service`) on
sandbox hosts as real processes.

``deploy/app/deploy``    ``host`` (guid or name), ``app``, ``version`` [, ``open_rate``, ``close_rate``,
                         ``transfer_rate``, ``wave``, ``open_cost``, ``close_cost``, ``transfer_cost``,
                         ``error_rate``, ``health_timeout``; the old ``rate`` is ``open_rate`` = rate,
                         ``close_rate`` = 0.6 rate] (options: :mod:`.app_options`): stops the app's
                         current process on that host, starts
                         the new version in ``<host workspace>/<app>`` on the host's first port no
                         other app uses (a new session, pid recorded), and waits for its
                         ``/health``. A failed health check fails the entity with the reason and
                         stops the process. The version that ran before is kept for rollback.
                         Deploying the version that already runs, healthy, changes nothing.
``deploy/app/stop``      ``host``, ``app``: stops the process (idempotent).
``deploy/app/rollback``  ``host``, ``app``: stops the current version and starts the previous one.
``deploy/app/load``      ``host``, ``app``, rates per operation: changes the running app's load.
``deploy/app/crash``     ``host``, ``app``: makes the running app crash (an incident on purpose).
                         Both in :mod:`.app_control`.

A process that ends on its own (a crash) marks its instance ``failed`` at once (see
:mod:`airflow_wecube.sandbox.processes`); deploying the same version again starts it.

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
from pathlib import Path
from typing import Any

from airflow_wecube.sandbox.plugin import Call, EntityError, SandboxPackage, text
from airflow_wecube.sandbox.plugins import app_control
from airflow_wecube.sandbox.plugins.app_options import deploy_options, run_options
from airflow_wecube.sandbox.plugins.instances import (
    existing_instance,
    find_target,
    instance_output,
    instance_row,
    record,
)
from airflow_wecube.sandbox.processes import (
    REVIVED_MESSAGES,
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
    with it) and those in :data:`~airflow_wecube.sandbox.processes.REVIVED_MESSAGES`: stopped by the
    sandbox's shutdown, or by a signal from outside (``make demo-stop`` signals the apps too). A
    process of the previous sandbox still alive (it exits within a second of its parent) is stopped
    first. Each app starts on its port with its version and options, and is recorded ``running``
    with its new pid, or ``failed`` with the reason. Runs before the server answers any request.

    :return: ``{"<app>@<host>": "running" | "failed"}`` for the apps it tried
    """
    from concurrent.futures import ThreadPoolExecutor

    marks = ", ".join("?" * len(REVIVED_MESSAGES))
    rows = (
        store.connection()
        .execute(
            "SELECT d.*, h.workspace FROM deploy_instance d JOIN host_host h ON h.guid = d.host_guid"
            f" WHERE d.status = 'running' OR (d.status = 'stopped' AND d.message IN ({marks})) ORDER BY d.host, d.app",
            REVIVED_MESSAGES,
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
                record(
                    store,
                    row["guid"],
                    status="failed",
                    pid=None,
                    message=f"could not start {row['version']} again when the sandbox started: {e}",
                )
                return ci_name, "failed"
            record(store, row["guid"], status="running", pid=pid, message="")
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


def _version(entity: dict[str, Any]) -> str:
    value = text(entity, "version").strip()
    if not VERSION_RE.match(value):
        raise EntityError(f"input version must be 1-64 letters, digits, '.', '_', '+' or '-', got {value!r}")
    return value


# -- interfaces -------------------------------------------------------------------------------


@app_plugin.entity("deploy")
def deploy(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Run ``version`` of ``app`` on ``host``; the version it replaces is kept for rollback."""
    host, app = find_target(call, entity)
    version = _version(entity)
    options = deploy_options(entity)
    with host_lock(host["guid"]):
        row = instance_row(call.store, host, app)
        ci_name = f"{app}@{host['name']}"
        current_opts = json.loads(row["options"] or "{}")
        if (
            row["status"] == "running"
            and row["version"] == version
            and run_options(current_opts) == run_options({**current_opts, **options})
            and is_running(row["pid"], row["port"])
            and healthy(row["port"], version)[0]
        ):
            return instance_output(row, False)
        new_opts = {**(current_opts if row["version"] == version else {}), **options}
        # what to roll back to: the version that served until now (a failed one is not kept)
        if row["status"] in ("running", "stopped") and row["version"] and row["version"] != version:
            previous, previous_opts = row["version"], row["options"]
        else:
            previous, previous_opts = row["previous_version"], row["previous_options"]
        stop_process(row["pid"], row["port"])
        folder = Path(host["workspace"]) / app
        try:
            pid = start(call.store, row["guid"], ci_name, folder, row["port"], version, new_opts)
        except EntityError as e:
            record(
                call.store,
                row["guid"],
                version=version,
                options=json.dumps(new_opts),
                status="failed",
                pid=None,
                previous_version=previous,
                previous_options=previous_opts,
                message=str(e),
                last_request=f"{call.request_id}:{entity.get('callbackParameter')}",
            )
            raise
        row = record(
            call.store,
            row["guid"],
            version=version,
            options=json.dumps(new_opts),
            status="running",
            pid=pid,
            previous_version=previous,
            previous_options=previous_opts,
            message="",
            last_request=f"{call.request_id}:{entity.get('callbackParameter')}",
        )
        return instance_output(row, True)


@app_plugin.entity("stop")
def stop(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Stop the app's process on the host; stopping a stopped app changes nothing."""
    host, app = find_target(call, entity)
    with host_lock(host["guid"]):
        row = existing_instance(call.store, host, app)
        was_running = stop_process(row["pid"], row["port"])
        changed = was_running or row["status"] == "running"
        status = row["status"] if row["status"] in ("failed", "new") and not was_running else "stopped"
        message = "stopped" if changed else row["message"]
        row = record(call.store, row["guid"], status=status, pid=None, message=message)
        return instance_output(row, changed)


@app_plugin.entity("rollback")
def rollback(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Stop the current version and start the previous one."""
    host, app = find_target(call, entity)
    marker = f"{call.request_id}:{entity.get('callbackParameter')}"
    with host_lock(host["guid"]):
        row = existing_instance(call.store, host, app)
        if not row["previous_version"]:
            # a retry of the rollback that already happened answers the same
            if row["last_request"] == marker and row["status"] == "running" and is_running(row["pid"], row["port"]):
                return instance_output(row, False, rolled_back_from=row["rolled_back_from"] or "")
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
            record(call.store, row["guid"], status="failed", pid=None, message=f"rollback to {target} failed: {e}")
            raise EntityError(f"rollback of {app} on host {host['name']} to {target} failed: {e}") from None
        row = record(
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
        return instance_output(row, True, rolled_back_from=from_version)


# deploy/app/load and deploy/app/crash live in their own module, on the same plugin
app_plugin.entity("load")(app_control.load)
app_plugin.entity("crash")(app_control.crash)
app_plugin.entity("query")(app_control.query)
