"""Evaluate an expression over the entity API: one query per hop (per chunk of ids), never one per entity.

Each result is a :class:`Row`: the entity's data and its path of ids from the root
(``root::child::...``, WeCube's ``fullDataId``), so that a later step can tell, per root entity,
what it reached. The expression is checked against the data models first (:func:`model.check`).
Pure: no Airflow import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.expression import Expression, Hop, parse
from airflow_wecube.datamodel.model import check

#: ids per ``in`` filter: a long list of ids is sent as several queries of this many
CHUNK = 1000
#: how a path's ids are joined (WeCube's fullDataId)
PATH_SEP = "::"


@dataclass(frozen=True)
class Row:
    """One entity reached, by one path from the root."""

    data: dict[str, Any]
    path: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.path[-1]

    @property
    def path_text(self) -> str:
        return PATH_SEP.join(self.path)

    @property
    def root(self) -> str:
        return self.path[0]

    def to_dict(self, attr: str | None = None) -> dict[str, Any]:
        """A row of ``wecube entities query --json``: id, displayName, the attributes and the path."""
        out = {**self.data, "path": self.path_text}
        if attr:
            out["value"] = self.data.get(attr)
        return out


def _ids(value: Any) -> list[str]:
    """The ids a reference attribute holds (one, or a list for a multiple reference)."""
    if value in (None, ""):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]


def _chunks(ids: Sequence[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


class Evaluator:
    """Evaluates expressions over one :class:`EntityApi`.

    :param chunk: ids per ``in`` filter
    """

    def __init__(self, api: EntityApi, *, chunk: int = CHUNK):
        self.api = api
        self.chunk = chunk

    def check(self, expression: Expression | str) -> Expression:
        expr = parse(expression) if isinstance(expression, str) else expression
        check(expr, self.api.data_model)
        return expr

    def evaluate(
        self, expression: Expression | str, *, root: str | None = None, roots: Sequence[str] | None = None
    ) -> list[Row]:
        """Every path the expression reaches; from ``root`` (or each of ``roots``) when given.

        The root entities must be of the first hop's type and pass its filters.
        """
        expr = self.check(expression)
        if root is not None:
            roots = [root]
        rows = self._first(expr.first, None if roots is None else list(dict.fromkeys(map(str, roots))))
        return self.walk(expr, rows)

    def walk(self, expression: Expression | str, start: list[Row]) -> list[Row]:
        """The hops after the first, from rows already read (of the first hop's type, filters passed)."""
        expr = self.check(expression)
        rows = start
        for hop in expr.hops[1:]:
            if not rows:
                return []
            rows = self._follow(hop, rows)
        return rows

    def _query(self, hop: Hop, key: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        base = [f.to_api() for f in hop.filters]
        out: list[dict[str, Any]] = []
        for chunk in _chunks(ids, self.chunk):
            out.extend(
                self.api.query(hop.package, hop.entity, [*base, {"attrName": key, "op": "in", "condition": chunk}])
            )
        return out

    def _first(self, hop: Hop, roots: list[str] | None) -> list[Row]:
        if roots is None:
            found = self.api.query(hop.package, hop.entity, [f.to_api() for f in hop.filters])
        else:
            found = self._query(hop, "id", roots)
        return [Row(d, (str(d.get("id")),)) for d in found]

    def _follow(self, hop: Hop, rows: list[Row]) -> list[Row]:
        kind, attr = hop.via
        out: list[Row] = []
        if kind == "forward":
            wanted = list(dict.fromkeys(i for r in rows for i in _ids(r.data.get(attr))))
            by_id = {str(d.get("id")): d for d in self._query(hop, "id", wanted)}
            for r in rows:
                for i in _ids(r.data.get(attr)):
                    if i in by_id:
                        out.append(Row(by_id[i], (*r.path, i)))
            return out
        parents = list(dict.fromkeys(r.path[-1] for r in rows))
        children: dict[str, list[dict[str, Any]]] = {}
        for d in self._query(hop, attr, parents):
            for pid in _ids(d.get(attr)):
                children.setdefault(pid, []).append(d)
        for r in rows:  # the parents' order, then the order the API answered in
            for d in children.get(r.path[-1], ()):
                out.append(Row(d, (*r.path, str(d["id"]))))
        return out


def unique(rows: Iterable[Row]) -> list[Row]:
    """One row per entity (its first path): the targets of an entity-bound call."""
    seen: dict[str, Row] = {}
    for r in rows:
        seen.setdefault(r.id, r)
    return list(seen.values())


__all__ = ["CHUNK", "PATH_SEP", "Evaluator", "Row", "unique"]
