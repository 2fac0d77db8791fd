"""SQLite state of the sandbox: one database file, one connection per worker thread.

FastAPI runs the plugin handlers in a thread pool, so each thread gets its own connection
(``check_same_thread`` stays on). The database is in WAL mode with a busy timeout, writes that
read first run in ``BEGIN IMMEDIATE`` transactions (:meth:`Store.transaction`), and uniqueness is
enforced by constraints, so concurrent requests never see half a change or create duplicates.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    service_name TEXT,
    request_id TEXT,
    headers TEXT NOT NULL,
    inputs TEXT,
    status_code INTEGER,
    result_code TEXT,
    replayed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sandbox_calls_request_id ON sandbox_calls(request_id);
"""


def redact_authorization(value: str) -> str:
    """``Bearer <token>`` -> ``Bearer sha256:<16 hex>``: calls are recorded without the token itself,
    yet a test can still check which token was sent (compare fingerprints)."""
    scheme, _, secret = value.partition(" ")
    return f"{scheme} sha256:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"


class Store:
    """The sandbox database.

    :param path: the SQLite file (created with its tables if absent)
    :param schemas: extra ``CREATE TABLE IF NOT EXISTS`` scripts, one per plugin
    """

    def __init__(self, path: str | Path, schemas: Iterable[str] = ()):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self.connection()
        conn.execute("PRAGMA journal_mode=WAL")
        with self.transaction() as tx:
            for script in (CORE_SCHEMA, *schemas):
                for statement in script.split(";"):
                    if statement.strip():
                        tx.execute(statement)
            # a database from before the replayed column (answers to a repeated requestId, idempotency.py)
            if "replayed" not in {r["name"] for r in tx.execute("PRAGMA table_info(sandbox_calls)")}:
                tx.execute("ALTER TABLE sandbox_calls ADD COLUMN replayed INTEGER NOT NULL DEFAULT 0")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use :meth:`transaction` to group writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (``BEGIN IMMEDIATE``): read-modify-write is atomic."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:  # pragma: no cover - closing from another thread
                    pass
            self._all.clear()
        self._local = threading.local()

    # -- calls received (the introspection endpoint) ------------------------------------------

    def record_call(
        self,
        *,
        method: str,
        path: str,
        headers: dict[str, str],
        service_name: str | None,
        request_id: str | None,
        inputs: Any,
        status_code: int,
        result_code: str | None,
        replayed: bool = False,
    ) -> None:
        headers = {k: redact_authorization(v) if k.lower() == "authorization" else v for k, v in headers.items()}
        self.connection().execute(
            "INSERT INTO sandbox_calls (received_at, method, path, service_name, request_id, headers, inputs,"
            " status_code, result_code, replayed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(),
                method,
                path,
                service_name,
                request_id,
                json.dumps(headers),
                json.dumps(inputs),
                status_code,
                result_code,
                int(replayed),
            ),
        )

    def calls(self, request_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM sandbox_calls"
        args: tuple = ()
        if request_id is not None:
            sql += " WHERE request_id = ?"
            args = (request_id,)
        rows = self.connection().execute(sql + " ORDER BY id", args).fetchall()
        return [
            {
                "id": r["id"],
                "receivedAt": r["received_at"],
                "method": r["method"],
                "path": r["path"],
                "serviceName": r["service_name"],
                "requestId": r["request_id"],
                "headers": json.loads(r["headers"]),
                "inputs": json.loads(r["inputs"]) if r["inputs"] is not None else None,
                "statusCode": r["status_code"],
                "resultCode": r["result_code"],
                "replayed": bool(r["replayed"]),
            }
            for r in rows
        ]

    def clear_calls(self) -> int:
        return self.connection().execute("DELETE FROM sandbox_calls").rowcount
