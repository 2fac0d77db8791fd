"""The sandbox CMDB's entity API: WeCube's data-model contract over the same ``cmdb_ci`` records.

``GET /cmdb/data-model`` and ``POST /cmdb/entities/{entity}/query|create|update|delete``, answered
``{"status": "OK", "message": "", "data": ...}`` (docs/data-model.md). An entity is a CI of that type:
``id`` is its guid, ``displayName`` and ``name`` its name. A reference attribute ``X`` is kept in the
CI as ``X_guid`` (the id) beside ``X`` (the referenced CI's name), as the network, host and deploy
plugins write them, so the topology they build is walked as is. Queries are paged (``pageable``
``startIndex``/``pageSize``, answer ``pageInfo``); a backward reference is served by an index.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse, Response

from airflow_wecube.datamodel.model import Attribute, DataModel, EntityType, closest
from airflow_wecube.sandbox.store import Store

PACKAGE = "cmdb"
#: rows per page when a query asks for none; the most a page may hold
DEFAULT_PAGE, MAX_PAGE = 1000, 10000
#: the most ids one ``in`` condition may list
MAX_IN = 10000


def _ref(entity: str, description: str = "") -> Attribute:
    return Attribute("", "ref", PACKAGE, entity, description)


_STR, _INT = Attribute("", "str"), Attribute("", "int")
_SPEC: dict[str, tuple[str, dict[str, Attribute]]] = {
    "data_center": ("Data center", {"region": _STR}),
    "vpc": ("VPC", {"cidr": _STR, "data_center": _ref("data_center")}),
    "subnet": ("Subnet", {"cidr": _STR, "zone": _STR, "vpc": _ref("vpc")}),
    "route_table": ("Route table", {"vpc": _ref("vpc"), "routes": _STR}),
    "security_group": ("Security group", {"vpc": _ref("vpc"), "rules": _STR}),
    "host": (
        "Host",
        {
            "ip": _STR,
            "subnet": _ref("subnet"),
            "vpc": _ref("vpc"),
            "workspace": _STR,
            "port_base": _INT,
            "port_count": _INT,
            "status": _STR,
            "inventory_status": _STR,
            "inventory_note": _STR,
        },
    ),
    "app_system": ("Application system", {"code": _STR, "description": _STR}),
    "unit": ("Deployment unit", {"code": _STR, "unit_type": _STR, "app_system": _ref("app_system")}),
    "app": (
        "Application",
        {
            "version": _STR,
            "unit": _ref("unit"),
            "prometheus_job": _STR,
            "instances": _STR,
            "alert_rule_group": _STR,
            "rolled_out_by": _STR,
            "owner": _STR,
        },
    ),
    "app_instance": (
        "Application instance",
        {
            "app": _STR,
            "host": _ref("host"),
            "unit": _ref("unit"),
            "version": _STR,
            "previous_version": _STR,
            "status": _STR,
            "port": _INT,
            "pid": _INT,
            "url": _STR,
            "health_url": _STR,
            "metrics_url": _STR,
            "target": _STR,
            "message": _STR,
        },
    ),
}


def _model() -> DataModel:
    entities = {}
    for name, (display, attrs) in _SPEC.items():
        full = {"name": Attribute("name", "str", description="unique within the type")}
        for attr, a in attrs.items():
            full[attr] = Attribute(attr, a.data_type, a.ref_package, a.ref_entity, a.description)
        entities[name] = EntityType(PACKAGE, name, full, display)
    return DataModel(PACKAGE, entities)


MODEL = _model()
REFS = sorted({a for e in MODEL.entities.values() for a, v in e.attributes.items() if v.is_ref})
#: indexes serving backward references (``~(subnet)cmdb:host``) and their ``in`` lists
SCHEMA = "".join(
    f"CREATE INDEX IF NOT EXISTS cmdb_ci_ref_{r} ON cmdb_ci (type, json_extract(attributes, '$.{r}_guid'));\n"
    for r in REFS
)


class Refused(ValueError):
    """A request the entity API refuses (answered HTTP 400, status ERROR)."""


def _etype(entity: str) -> EntityType:
    etype = MODEL.entities.get(entity)
    if etype is None:
        raise Refused(f"package {PACKAGE} has no entity {entity!r}{closest(entity, MODEL.entities)}")
    return etype


def _column(etype: EntityType, attr: str) -> str:
    if attr == "id":
        return "guid"
    if attr in ("displayName", "name"):
        return "name"
    a = etype.attributes.get(attr)
    if a is None:
        raise Refused(f"{PACKAGE}:{etype.name} has no attribute {attr!r}{closest(attr, etype.names())}")
    return f"json_extract(attributes, '$.{attr}_guid')" if a.is_ref else f"json_extract(attributes, '$.{attr}')"


def _typed(etype: EntityType, attr: str, value: Any) -> Any:
    a = etype.attributes.get(attr)
    if a is not None and a.data_type == "int" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _source(etype: EntityType, filters: list[dict[str, Any]]) -> tuple[str, str]:
    """``FROM`` and the type condition, steering SQLite to the index of the most selective filter:
    without statistics it would scan the whole type through the ``(type, name)`` index instead."""
    for f in filters:
        if isinstance(f, dict) and f.get("op", "eq") in ("eq", "in") and f.get("condition") is not None:
            attr = f.get("attrName")
            if attr == "id":
                return "cmdb_ci", "+type = ?"  # the primary key (guid) drives
            a = etype.attributes.get(attr or "")
            if a is not None and a.is_ref:
                return f"cmdb_ci INDEXED BY cmdb_ci_ref_{attr}", "type = ?"
    return "cmdb_ci", "type = ?"


def _where(etype: EntityType, filters: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    sql, args = [_source(etype, filters)[1]], [etype.name]
    for f in filters:
        if not isinstance(f, dict) or not f.get("attrName"):
            raise Refused(f"a filter is {{attrName, op, condition}}, got {f!r}")
        col, op, cond = _column(etype, f["attrName"]), f.get("op") or "eq", f.get("condition")
        if op == "in":
            if not isinstance(cond, list) or len(cond) > MAX_IN:
                raise Refused(f"op 'in' needs a list of at most {MAX_IN} conditions for {f['attrName']}")
            if not cond:
                sql.append("0")
                continue
            sql.append(f"{col} IN ({', '.join('?' * len(cond))})")
            args.extend(_typed(etype, f["attrName"], c) for c in cond)
        elif op in ("is", "isnot") or (op in ("eq", "neq") and cond is None):
            sql.append(f"{col} IS {'NOT ' if op in ('isnot', 'neq') else ''}NULL")
        elif op in ("eq", "neq", "gt", "lt"):
            sign = {"eq": "=", "neq": "!=", "gt": ">", "lt": "<"}[op]
            sql.append(f"({col} IS NULL OR {col} != ?)" if op == "neq" else f"{col} {sign} ?")
            args.append(_typed(etype, f["attrName"], cond))
        elif op in ("like", "notLike"):
            sql.append(f"{col} LIKE ?" if op == "like" else f"({col} IS NULL OR {col} NOT LIKE ?)")
            args.append(f"%{cond}%")
        else:
            raise Refused(f"unknown op {op!r}: expected one of eq neq in like notLike gt lt is isnot")
    return " AND ".join(sql), args


def _row(etype: EntityType, row: Any) -> dict[str, Any]:
    stored = json.loads(row["attributes"])
    out = {"id": row["guid"], "displayName": row["name"], "name": row["name"]}
    for attr, a in etype.attributes.items():
        if attr != "name":
            out[attr] = stored.get(f"{attr}_guid") if a.is_ref else stored.get(attr)
    return out


class RawJson(str):
    """JSON text built by SQLite, sent as it is (no parse and dump of every row in Python)."""


def _object_sql(etype: EntityType) -> str:
    """SQL building one entity as a JSON object (a reference attribute ``X`` reads ``X_guid``)."""
    parts = ["'id', guid", "'displayName', name", "'name', name"]
    for attr, a in etype.attributes.items():
        if attr != "name":
            parts.append(f"'{attr}', attributes -> '$.{attr}{'_guid' if a.is_ref else ''}'")
    return f"json_object({', '.join(parts)})"


def query(store: Store, entity: str, body: dict[str, Any]) -> dict[str, Any]:
    """One page of the entities matching the body's ``criteria`` and ``additionalFilters``."""
    etype = _etype(entity)
    if not isinstance(body, dict):
        raise Refused("a query's body is {criteria, additionalFilters, pageable}")
    filters = list(body.get("additionalFilters") or [])
    criteria = body.get("criteria") or {}
    if criteria.get("attrName"):
        filters.append({"attrName": criteria["attrName"], "op": "eq", "condition": criteria.get("condition")})
    page = body.get("pageable") or {}
    size = page.get("pageSize")
    start, size = int(page.get("startIndex") or 0), int(DEFAULT_PAGE if size is None else size)
    if start < 0 or not 0 < size <= MAX_PAGE:
        raise Refused(f"pageable: startIndex must be >= 0 and pageSize 1..{MAX_PAGE}, got {page}")
    where, args = _where(etype, filters)
    source = _source(etype, filters)[0]
    db = store.connection()
    data, n = db.execute(
        f"SELECT json_group_array(json(o)), count(*) FROM (SELECT {_object_sql(etype)} AS o"  # noqa: S608
        f" FROM {source} WHERE {where} ORDER BY name, guid LIMIT ? OFFSET ?)",
        [*args, size, start],
    ).fetchone()
    total = start + n
    if n == size or (start and not n):
        total = db.execute(f"SELECT count(*) FROM {source} WHERE {where}", args).fetchone()[0]  # noqa: S608
    return {"data": RawJson(data), "pageInfo": {"startIndex": start, "pageSize": size, "totalRows": total}}


def _values(db, etype: EntityType, item: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with the item's attributes written in (a reference also gets its target's name)."""
    for attr, value in item.items():
        if attr in ("id", "displayName", "name"):
            continue
        a = etype.attributes.get(attr)
        if a is None:
            raise Refused(f"{PACKAGE}:{etype.name} has no attribute {attr!r}{closest(attr, etype.names())}")
        if a.is_ref:
            if value in (None, ""):
                stored.pop(f"{attr}_guid", None)
                stored.pop(attr, None)
                continue
            target = db.execute(
                "SELECT name FROM cmdb_ci WHERE guid = ? AND type = ?", (value, a.ref_entity)
            ).fetchone()
            if target is None:
                raise Refused(f"{etype.name}.{attr}: no {a.ref_entity} has id {value!r}")
            stored[f"{attr}_guid"], stored[attr] = value, target["name"]
        elif value is None:
            stored.pop(attr, None)
        else:
            stored[attr] = _typed(etype, attr, value)
    return stored


def _items(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
        raise Refused("the body must be a list of entity objects")
    return body


def create(store: Store, entity: str, body: Any) -> dict[str, Any]:
    """New entities (``id`` may be given; ``name`` defaults to the id); all or none."""
    etype, out, now = _etype(entity), [], time.time()
    with store.transaction() as db:
        for item in _items(body):
            guid = str(item.get("id") or f"ci-{uuid.uuid4().hex}")
            name = str(item.get("name") or item.get("displayName") or guid)
            if db.execute("SELECT 1 FROM cmdb_ci WHERE guid = ?", (guid,)).fetchone():
                raise Refused(f"an entity with id {guid!r} exists already")
            if db.execute("SELECT 1 FROM cmdb_ci WHERE type = ? AND name = ?", (entity, name)).fetchone():
                raise Refused(f"a {entity} named {name!r} exists already")
            attrs = _values(db, etype, item, {})
            db.execute(
                "INSERT INTO cmdb_ci (guid, type, name, attributes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (guid, entity, name, json.dumps(attrs), now, now),
            )
            out.append(_row(etype, db.execute("SELECT * FROM cmdb_ci WHERE guid = ?", (guid,)).fetchone()))
    return {"data": out}


def update(store: Store, entity: str, body: Any) -> dict[str, Any]:
    """Merge the given attributes into existing entities (``null`` removes one); all or none."""
    etype, out = _etype(entity), []
    with store.transaction() as db:
        for item in _items(body):
            row = db.execute("SELECT * FROM cmdb_ci WHERE guid = ? AND type = ?", (item.get("id"), entity)).fetchone()
            if row is None:
                raise Refused(f"no {entity} has id {item.get('id')!r}")
            attrs = _values(db, etype, item, json.loads(row["attributes"]))
            db.execute(
                "UPDATE cmdb_ci SET name = ?, attributes = ?, updated_at = ? WHERE guid = ?",
                (str(item.get("name") or row["name"]), json.dumps(attrs), time.time(), row["guid"]),
            )
            out.append(_row(etype, db.execute("SELECT * FROM cmdb_ci WHERE guid = ?", (row["guid"],)).fetchone()))
    return {"data": out}


def delete(store: Store, entity: str, body: Any) -> dict[str, Any]:
    """Remove entities by id; refused while another entity refers to one of them."""
    etype, out = _etype(entity), []
    with store.transaction() as db:
        for item in _items(body):
            row = db.execute("SELECT * FROM cmdb_ci WHERE guid = ? AND type = ?", (item.get("id"), entity)).fetchone()
            if row is None:
                raise Refused(f"no {entity} has id {item.get('id')!r}")
            for other in MODEL.entities.values():
                for attr, a in other.attributes.items():
                    if a.is_ref and a.ref_entity == entity:
                        sql = f"SELECT name FROM cmdb_ci WHERE type = ? AND {_column(other, attr)} = ?"  # noqa: S608
                        ref = db.execute(sql, (other.name, row["guid"])).fetchone()
                        if ref:
                            raise Refused(
                                f"{entity} {row['name']} is referred to by {other.name} {ref['name']} ({attr})"
                            )
            out.append(_row(etype, row))
            db.execute("DELETE FROM cmdb_ci WHERE guid = ?", (row["guid"],))
    return {"data": out}


ACTIONS = {"query": query, "create": create, "update": update, "delete": delete}


def router(store: Store, token: str) -> APIRouter:
    """The entity API's routes, behind the sandbox's bearer token; each request is recorded."""
    from airflow_wecube.sandbox.plugin import _authorized

    api = APIRouter(tags=["cmdb entities"])

    def answer(method: str, path: str, authorization: str | None, body: Any, work) -> Response:
        denied = _authorized({"authorization": authorization or ""}, token)
        if denied:
            status, payload = 401, {"status": "ERROR", "message": denied, "data": None}
        else:
            try:
                status, payload = 200, {"status": "OK", "message": "", **work()}
            except (ValueError, TypeError, sqlite3.IntegrityError) as e:  # Refused, a bad number, a duplicate name
                status, payload = 400, {"status": "ERROR", "message": str(e), "data": None}
        headers = {"authorization": authorization} if authorization else {}
        store.record_call(
            method=method, path=path, headers=headers, service_name=None, request_id=None,
            inputs=body, status_code=status, result_code=payload["status"],
        )  # fmt: skip
        if isinstance(payload.get("data"), RawJson):  # a query's page: SQLite wrote the rows' JSON
            rest = json.dumps({k: v for k, v in payload.items() if k != "data"})
            return Response(
                f'{rest[:-1]}, "data": {payload["data"]}}}', status_code=status, media_type="application/json"
            )
        return JSONResponse(payload, status_code=status)

    @api.get(f"/{PACKAGE}/data-model")
    def data_model(authorization: str | None = Header(default=None)) -> JSONResponse:
        """The entities of the sandbox CMDB and their attributes (``ref``: a reference to another entity)."""
        return answer("GET", f"/{PACKAGE}/data-model", authorization, None, lambda: {"data": MODEL.to_api()})

    @api.post(f"/{PACKAGE}/entities/{{entity}}/{{action}}")
    def entities(
        entity: str, action: str, body: Any = Body(default=None), authorization: str | None = Header(default=None)
    ) -> JSONResponse:
        """query (``{criteria, additionalFilters, pageable}``), create, update, delete (a list of entities)."""
        if action not in ACTIONS:
            return JSONResponse({"status": "ERROR", "message": f"unknown action {action!r}: {', '.join(ACTIONS)}"}, 404)
        path = f"/{PACKAGE}/entities/{entity}/{action}"
        return answer("POST", path, authorization, body, lambda: ACTIONS[action](store, entity, body or {}))

    return api


__all__ = ["MODEL", "SCHEMA", "Refused", "router"]
