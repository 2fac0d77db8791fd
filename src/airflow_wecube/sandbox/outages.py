"""Outages on purpose: ``POST /sandbox/outages`` makes the next N calls of a service answer HTTP 503,
so a test can fail a plugin in the middle of a run (docs/reconcile.md)."""

from __future__ import annotations

from airflow_wecube.sandbox.store import Store

#: ``POST /sandbox/outages``: the next ``calls`` calls of ``service`` answer HTTP 503
OUTAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_outage (service TEXT PRIMARY KEY, calls INTEGER NOT NULL);
"""


def in_outage(store: Store, service: str) -> bool:
    """Whether this call of ``service`` falls in an outage set by a test (one call used up)."""
    if (
        not store.connection()
        .execute("SELECT 1 FROM sandbox_outage WHERE service = ? AND calls > 0", (service,))
        .fetchone()
    ):
        return False
    with store.transaction() as db:
        return bool(
            db.execute(
                "UPDATE sandbox_outage SET calls = calls - 1 WHERE service = ? AND calls > 0", (service,)
            ).rowcount
        )
