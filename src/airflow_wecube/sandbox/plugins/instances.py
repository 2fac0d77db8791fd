"""The ``deploy`` plugin's instances: one row per (host, app) in ``deploy_instance`` and its
``app_instance`` CMDB CI (``<app>@<host>``), written together; shared by :mod:`.deploy` and
:mod:`.app_control`."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from airflow_wecube.sandbox.plugin import Call, EntityError, name_input, text
from airflow_wecube.sandbox.plugins.cmdb import put_ci
from airflow_wecube.sandbox.plugins.host import find_host
from airflow_wecube.sandbox.store import Store


def instance_output(row: Any, changed: bool, **extra: Any) -> dict[str, Any]:
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


def record(store: Store, guid: str, **values: Any) -> sqlite3.Row:
    """Update the instance row and its CI together."""
    values["updated_at"] = time.time()
    with store.transaction() as db:
        sets = ", ".join(f"{k} = ?" for k in values)
        db.execute(f"UPDATE deploy_instance SET {sets} WHERE guid = ?", (*values.values(), guid))  # noqa: S608
        row = db.execute("SELECT * FROM deploy_instance WHERE guid = ?", (guid,)).fetchone()
        out = instance_output(row, False)
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


def instance_row(store: Store, host: Any, app: str) -> sqlite3.Row:
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


def find_target(call: Call, entity: dict[str, Any]) -> tuple[Any, str]:
    ref = text(entity, "host").strip()
    app = name_input(entity, "app")
    host = find_host(call.store.connection(), ref)
    return host, app


def existing_instance(store: Store, host: Any, app: str) -> sqlite3.Row:
    """The app's row on the host; an entity error when it was never deployed there."""
    row = (
        store.connection()
        .execute("SELECT * FROM deploy_instance WHERE host_guid = ? AND app = ?", (host["guid"], app))
        .fetchone()
    )
    if row is None:
        raise EntityError(f"app {app} was never deployed on host {host['name']}")
    return row


__all__ = ["existing_instance", "instance_output", "instance_row", "find_target", "record"]
