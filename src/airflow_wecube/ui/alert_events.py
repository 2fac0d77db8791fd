"""Alert state changes recorded as Asset events on ``wecube-alert://<alertname>`` (the webhook's DB side).

Idempotent across retries, restarts and several API servers: the event's ``extra`` holds ``key``
(``fingerprint/startsAt/status``, :attr:`~airflow_wecube.alertmanager.payload.WebhookAlert.key`),
and a change whose key is already among the asset's events is not recorded again. The memory is the
Asset event table itself, so it survives an API-server restart and every API server sees it; the
check and the insert run under a lock on the asset's row (``SELECT ... FOR UPDATE`` on Postgres and
MySQL, SQLite's writer lock taken by a no-op ``UPDATE``), so two servers handed the same delivery at
once record it once. Only the asset's events since the alert's ``startsAt`` (less an hour of clock
skew) are compared: a change is never delivered before it started.

An alert no DAG schedules on is recorded too (its asset is created when missing, and stays inactive
until a DAG schedules on it): the events are the alert's history (``GET /api/v2/assets/events``; the
asset is listed with ``only_active=false``), and the answer names it in ``no_listener``. A DAG that
schedules on the asset later is started by the alert's next state change, not by past ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_wecube.alertmanager.assets import alert_asset
from airflow_wecube.alertmanager.payload import WebhookAlert, WebhookPayload

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: how far Prometheus's clock (``startsAt``) may run ahead of the API server's
CLOCK_SKEW = timedelta(hours=1)
#: most recent events of one asset compared with a delivery
SCAN_LIMIT = 10000


def _asset_model(session: Session, alertname: str):
    """The asset's row, created when no DAG declared it yet (a concurrent creator wins cleanly)."""
    from airflow.models.asset import AssetModel
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    asset = alert_asset(alertname)
    stmt = select(AssetModel).where(AssetModel.name == asset.name, AssetModel.uri == asset.uri)
    model = session.scalar(stmt)
    if model is not None:
        return model
    try:
        with session.begin_nested():
            session.add(AssetModel(name=asset.name, uri=asset.uri, group=asset.group, extra={}))
    except IntegrityError:  # another API server created it meanwhile
        pass
    return session.scalar(stmt)


def _lock(session: Session, asset_id: int) -> None:
    """Hold the asset's row until commit: deliveries of this alert are checked and written one at a time."""
    from airflow.models.asset import AssetModel
    from airflow.utils.sqlalchemy import get_dialect_name, with_row_locks
    from sqlalchemy import select, update

    if get_dialect_name(session) == "sqlite":
        # a write takes SQLite's database-wide writer lock, held until commit
        session.execute(update(AssetModel).where(AssetModel.id == asset_id).values(id=AssetModel.id))
    else:
        session.scalar(
            with_row_locks(select(AssetModel.id).where(AssetModel.id == asset_id), session=session, key_share=False)
        )


def _recorded_keys(session: Session, asset_id: int, alerts: list[WebhookAlert]) -> set[str]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.sqlalchemy import get_dialect_name
    from sqlalchemy import select

    since = min(a.startsAt for a in alerts) - CLOCK_SKEW
    stmt = (
        select(AssetEvent.extra)
        .where(AssetEvent.asset_id == asset_id, AssetEvent.timestamp >= since)
        .order_by(AssetEvent.id.desc())
        .limit(SCAN_LIMIT)
    )
    if get_dialect_name(session) != "sqlite":
        # a locking read sees what the lock's previous holder committed, also under MySQL's
        # REPEATABLE READ (whose plain reads keep the transaction's first snapshot)
        stmt = stmt.with_for_update(read=True)
    rows = session.scalars(stmt)
    return {extra.get("key") for extra in rows if isinstance(extra, dict) and extra.get("key")}


def _listening_dags(session: Session, asset_id: int, name: str, uri: str) -> list[str]:
    """Unpaused DAGs scheduled on the asset (by the asset, its name or its URI)."""
    from airflow.models.asset import (
        DagScheduleAssetNameReference,
        DagScheduleAssetReference,
        DagScheduleAssetUriReference,
    )
    from airflow.models.dag import DagModel
    from sqlalchemy import or_, select

    by_asset = select(DagScheduleAssetReference.dag_id).where(DagScheduleAssetReference.asset_id == asset_id)
    by_name = select(DagScheduleAssetNameReference.dag_id).where(DagScheduleAssetNameReference.name == name)
    by_uri = select(DagScheduleAssetUriReference.dag_id).where(DagScheduleAssetUriReference.uri == uri)
    stmt = select(DagModel.dag_id).where(
        or_(DagModel.dag_id.in_(by_asset), DagModel.dag_id.in_(by_name), DagModel.dag_id.in_(by_uri)),
        DagModel.is_paused.is_(False),
    )
    return sorted(session.scalars(stmt))


def record_alerts(payload: WebhookPayload) -> dict[str, Any]:
    """Record each new state change of ``payload`` as an Asset event, in one transaction.

    :return: ``recorded`` (one entry per new event: alertname, status, fingerprint, event_id, dags),
        ``duplicates`` (changes recorded before) and ``no_listener`` (alert names no unpaused DAG
        schedules on).
    """
    from airflow.assets.manager import asset_manager
    from airflow.utils.session import create_session

    by_name: dict[str, list[WebhookAlert]] = {}
    for alert in payload.alerts:
        by_name.setdefault(alert.alertname, []).append(alert)
    recorded: list[dict[str, Any]] = []
    duplicates: list[dict[str, str]] = []
    no_listener: list[str] = []
    with create_session() as session:
        for alertname in sorted(by_name):  # one lock order for every server: no deadlock
            alerts = by_name[alertname]
            model = _asset_model(session, alertname)
            _lock(session, model.id)
            seen = _recorded_keys(session, model.id, alerts)
            dags = _listening_dags(session, model.id, model.name, model.uri)
            if not dags:
                no_listener.append(alertname)
            for alert in alerts:
                entry = {"alertname": alertname, "status": alert.status, "fingerprint": alert.fingerprint}
                if alert.key in seen:
                    duplicates.append(entry)
                    continue
                seen.add(alert.key)
                event = asset_manager.register_asset_change(
                    asset=model, extra=alert.event_extra(), source_is_api=True, api_user_teams=set(), session=session
                )
                if event is None:  # pragma: no cover - the row was found or created just above
                    raise RuntimeError(f"asset {model.uri} vanished while recording an alert")
                recorded.append({**entry, "event_id": event.id, "dags": dags})
    return {"recorded": recorded, "duplicates": duplicates, "no_listener": no_listener}
