"""Task history the pages read: task instances with their rendered fields, newest first.

"Last calls" of an interface and a CMDB record's history both look for a service or an entity in
what each task rendered; one query serves both.
"""

from __future__ import annotations

from typing import Any

#: how far back the pages look (newest task instances first)
HISTORY_LIMIT = 5000


def rendered_tasks(limit: int = HISTORY_LIMIT) -> list[Any]:
    """Rows of (dag_id, run_id, task_id, map_index, rendered_fields, state, start_date, end_date,
    try_number), newest first, at most ``limit``."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import and_, select

    stmt = (
        select(
            RTIF.dag_id,
            RTIF.run_id,
            RTIF.task_id,
            RTIF.map_index,
            RTIF.rendered_fields,
            TI.state,
            TI.start_date,
            TI.end_date,
            TI.try_number,
        )
        .join(
            TI,
            and_(
                TI.dag_id == RTIF.dag_id,
                TI.run_id == RTIF.run_id,
                TI.task_id == RTIF.task_id,
                TI.map_index == RTIF.map_index,
            ),
        )
        .order_by(TI.start_date.desc())
        .limit(limit)
    )
    with create_session() as session:  # read whole: a caller that stops early leaves no session open
        return list(session.execute(stmt))
