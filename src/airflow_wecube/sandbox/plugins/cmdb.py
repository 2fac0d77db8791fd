"""``cmdb``: configuration items (CIs) and credentials, stored in SQLite.

Services: ``cmdb/ci/create`` (idempotent on type + name; an optional ``guid`` keeps a resource's own
guid when its record is written again), ``cmdb/ci/query``, ``cmdb/ci/delete`` (by guid), ``cmdb/ci/update``
(merges attributes; a ``null`` value removes that attribute; with ``expected``, only when those
attributes hold those values now: a compare-and-set, e.g. a lock), and ``cmdb/credential/set`` whose
``password`` is sensitive: only a salted hash is kept, and the answer carries a fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from typing import Any

from airflow_wecube.sandbox.plugin import Call, EntityError, SandboxPackage, obj, present, text
from airflow_wecube.sandbox.plugins.cmdb_entities import SCHEMA as ENTITY_SCHEMA

SCHEMA = """
CREATE TABLE IF NOT EXISTS cmdb_ci (
    guid TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (type, name)
);
CREATE TABLE IF NOT EXISTS cmdb_credential (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    salt TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

#: how a refused compare-and-set (``expected`` not met) begins its error message
CONFLICT = "conflict"

package = SandboxPackage("cmdb", schema=SCHEMA + ENTITY_SCHEMA)
ci = package.plugin("ci")
credential = package.plugin("credential")


def _row(row: Any) -> dict[str, Any]:
    return {"guid": row["guid"], "type": row["type"], "name": row["name"], "attributes": json.loads(row["attributes"])}


def put_ci(
    db: sqlite3.Connection,
    ci_type: str,
    name: str,
    attributes: dict[str, Any],
    *,
    merge: bool = True,
    guid: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create the CI ``(ci_type, name)`` or merge ``attributes`` into it; for other sandbox plugins.

    Runs on ``db``, a connection inside the caller's :meth:`~airflow_wecube.sandbox.store.Store.transaction`,
    so the resource and its CMDB record are written together. A ``None`` value removes that attribute.

    :param merge: ``False`` leaves an existing CI as it is (``cmdb/ci/create`` never changes one)
    :param guid: the guid of a new CI (a resource's own guid when its record is written again)
    :returns: the CI (as ``cmdb/ci/query`` lists it) and whether this call created it
    """
    now = time.time()
    clean = {k: v for k, v in attributes.items() if v is not None}
    inserted = db.execute(
        "INSERT INTO cmdb_ci (guid, type, name, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (type, name) DO NOTHING",
        (guid or f"ci-{uuid.uuid4().hex}", ci_type, name, json.dumps(clean), now, now),
    ).rowcount
    row = db.execute("SELECT * FROM cmdb_ci WHERE type = ? AND name = ?", (ci_type, name)).fetchone()
    if not inserted and merge:
        merged = json.loads(row["attributes"])
        for key, value in attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if merged != json.loads(row["attributes"]):
            db.execute(
                "UPDATE cmdb_ci SET attributes = ?, updated_at = ? WHERE guid = ?",
                (json.dumps(merged), now, row["guid"]),
            )
        return {**_row(row), "attributes": merged}, False
    return _row(row), bool(inserted)


def _nonblank(entity: dict[str, Any], name: str) -> str:
    value = text(entity, name).strip()
    if not value:
        raise EntityError(f"input {name} must not be blank")
    return value


@ci.entity("create")
def create(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Create a CI, or return the existing one with the same type and name (never a duplicate)."""
    ci_type, name = _nonblank(entity, "type"), _nonblank(entity, "name")
    attributes = obj(entity, "attributes")
    guid = text(entity, "guid").strip() or None
    with call.store.transaction() as db:
        if (
            guid
            and db.execute(
                "SELECT 1 FROM cmdb_ci WHERE guid = ? AND NOT (type = ? AND name = ?)", (guid, ci_type, name)
            ).fetchone()
        ):
            raise EntityError(f"guid {guid} is taken by another CI")
        found, created = put_ci(db, ci_type, name, attributes, merge=False, guid=guid)
    return {**found, "created": "Y" if created else "N"}


@ci.entity("delete")
def delete(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Remove a CI by guid (only the record: the resource it describes is its plugin's); removing one
    that is not there changes nothing."""
    guid = _nonblank(entity, "guid")
    with call.store.transaction() as db:
        row = db.execute("SELECT * FROM cmdb_ci WHERE guid = ?", (guid,)).fetchone()
        if row is None:
            return {"guid": guid, "deleted": "N"}
        db.execute("DELETE FROM cmdb_ci WHERE guid = ?", (guid,))
    return {**_row(row), "deleted": "Y"}


@ci.entity("query")
def query(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """CIs of a type, optionally narrowed by name and/or guid."""
    sql, args = "SELECT * FROM cmdb_ci WHERE type = ?", [_nonblank(entity, "type")]
    for column in ("name", "guid"):
        if present(entity.get(column)):
            sql += f" AND {column} = ?"
            args.append(text(entity, column))
    rows = call.store.connection().execute(sql + " ORDER BY name, guid", args).fetchall()
    items = [_row(r) for r in rows]
    return {"items": items, "count": len(items)}


@ci.entity("update")
def update(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Merge ``attributes`` into a CI's attributes (a ``null`` value removes that key); with
    ``expected``, only when each of those attributes has that value now (``null``: absent)."""
    guid = _nonblank(entity, "guid")
    changes = obj(entity, "attributes")
    expected = obj(entity, "expected")
    with call.store.transaction() as db:
        row = db.execute("SELECT * FROM cmdb_ci WHERE guid = ?", (guid,)).fetchone()
        if row is None:
            raise EntityError(f"unknown guid: {guid}")
        merged = json.loads(row["attributes"])
        differ = {k: merged.get(k) for k, v in expected.items() if merged.get(k) != v}
        if differ:
            shown = ", ".join(f"{k} is {v!r}, expected {expected[k]!r}" for k, v in sorted(differ.items()))
            raise EntityError(f"{CONFLICT}: {shown}; read the CI again and retry")
        for key, value in changes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        db.execute(
            "UPDATE cmdb_ci SET attributes = ?, updated_at = ? WHERE guid = ?", (json.dumps(merged), time.time(), guid)
        )
    return {**_row(row), "attributes": merged}


def fingerprint(password: str) -> str:
    """What ``cmdb/credential/set`` answers for a password: a short SHA-256 prefix, not the value."""
    return "sha256:" + hashlib.sha256(password.encode()).hexdigest()[:16]


@credential.entity("set")
def set_credential(entity: dict[str, Any], call: Call) -> dict[str, Any]:
    """Store a credential's salted hash (never the password) under its name."""
    name = _nonblank(entity, "name")
    password = text(entity, "password")
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    with call.store.transaction() as db:
        db.execute(
            "INSERT INTO cmdb_credential (guid, name, salt, password_hash, fingerprint, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET salt = excluded.salt,"
            " password_hash = excluded.password_hash, fingerprint = excluded.fingerprint,"
            " updated_at = excluded.updated_at",
            (f"cred-{uuid.uuid4().hex}", name, salt, digest, fingerprint(password), time.time()),
        )
        guid = db.execute("SELECT guid FROM cmdb_credential WHERE name = ?", (name,)).fetchone()["guid"]
    return {"guid": guid, "name": name, "fingerprint": fingerprint(password)}
