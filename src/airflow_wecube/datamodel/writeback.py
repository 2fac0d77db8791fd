"""Write a call's outputs back to the entities, through the entity API.

An output registered with ``mappingType="entity"`` and ``mappingEntityExpression`` ``cmdb:host.status``
sets ``status`` on the host the call was made for; through references
(``cmdb:host.subnet>cmdb:subnet.note``) on the entity reached from it. Only entities whose output
succeeded are written. Only what differs from the CMDB is sent, so a retry (whose plugin answers
the same) writes nothing twice. An output mapped to ``...id`` of a walk that reaches no entity
creates that entity with its id, linked to the entity before it (the reference attribute of the
last hop), once. Sensitive outputs (masked) are never written. Pure: no Airflow import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_wecube.datamodel.binding import CALLBACK, Binding, entity_mapped
from airflow_wecube.datamodel.evaluate import Evaluator, Row
from airflow_wecube.datamodel.expression import Expression


@dataclass
class WriteBack:
    """What the write-back did: ``(pkg:entity, id, {attr: value})`` per write, and what it left alone."""

    updated: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    created: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "updated": [{"entity": e, "id": i, "attributes": a} for e, i, a in self.updated],
            "created": [{"entity": e, "id": i, "attributes": a} for e, i, a in self.created],
            "unchanged": self.unchanged,
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        return (
            f"wrote back {len(self.updated)} update(s) and {len(self.created)} creation(s); "
            f"{self.unchanged} entit{'y' if self.unchanged == 1 else 'ies'} already up to date"
            + (f"; {'; '.join(self.notes)}" if self.notes else "")
        )


def _same(have: Any, want: Any) -> bool:
    if have in (None, "") and want in (None, ""):
        return True
    return have == want or str(have) == str(want)


def _walk(evaluator: Evaluator, expr: Expression, roots: list[str], bound: dict[str, Row]) -> dict[str, list[Row]]:
    """The entities ``expr`` reaches from each root (the bound row itself for a one-hop walk)."""
    if len(expr.hops) == 1 and not expr.first.filters:
        return {i: [bound[i]] for i in roots}
    grouped: dict[str, list[Row]] = {}
    found = (
        evaluator.walk(expr, [Row(bound[i].data, (i,)) for i in roots])
        if not expr.first.filters
        else evaluator.evaluate(expr, roots=roots)
    )
    for r in found:
        grouped.setdefault(r.root, []).append(r)
    return grouped


def write_back(evaluator: Evaluator, binding: Binding, outputs: Iterable[dict[str, Any]]) -> WriteBack:
    """Write the entity-mapped values of ``outputs`` (those that succeeded) to the entities of ``binding``."""
    done = WriteBack()
    service = binding.service
    params = {p.name: p for p in service.interface.outputs}
    bound = {r.id: r for r in binding.rows}
    if not bound:
        return done
    mapped = entity_mapped(service, service.interface.outputs, binding.expression)
    succeeded = [o for o in outputs if str(o.get("errorCode", "0")) == "0" and str(o.get(CALLBACK)) in bound]
    groups: dict[str, tuple[Expression, dict[str, str]]] = {}
    for name, expr in mapped.items():
        if params[name].sensitive:
            done.notes.append(f"{name} is sensitive: not written back")
            continue
        target = expr.target()
        groups.setdefault(str(target), (target, {}))[1][name] = expr.attr or "id"
    updates: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    creates: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    links: list[tuple[str, str, str, str, str]] = []  # (pkg, entity, id, attr, new id): forward links
    for target, attrs in groups.values():
        roots = [str(o[CALLBACK]) for o in succeeded if any(n in o for n in attrs)]
        if not roots:
            continue
        evaluator.check(target)
        reached = _walk(evaluator, target, roots, bound)
        last = target.last
        key = (last.package, last.entity)
        for o in succeeded:
            root = str(o[CALLBACK])
            values = {attr: o[name] for name, attr in attrs.items() if name in o}
            if not values:
                continue
            new_id = values.pop("id", None)
            found = reached.get(root, [])
            if new_id not in (None, "") and all(r.id != str(new_id) for r in found):
                if len(target.hops) < 2:
                    done.notes.append(f"{root}: output id {new_id} names another entity than the one called for")
                    continue
                _create(evaluator, target, bound[root], str(new_id), values, creates, links, done)
                continue
            if not found:
                done.notes.append(f"{root}: {target} reaches no entity; nothing written")
            for r in found:
                diff = {a: v for a, v in values.items() if not _same(r.data.get(a), v)}
                if diff:
                    updates.setdefault(key, {}).setdefault(r.id, {}).update(diff)
                else:
                    done.unchanged += 1
    api = evaluator.api
    for (pkg, entity), items in creates.items():
        api.create(pkg, entity, [{"id": i, **a} for i, a in items.items()])
        done.created.extend((f"{pkg}:{entity}", i, a) for i, a in items.items())
    for pkg, entity, holder, attr, new_id in links:
        updates.setdefault((pkg, entity), {}).setdefault(holder, {})[attr] = new_id
    for (pkg, entity), items in updates.items():
        api.update(pkg, entity, [{"id": i, **a} for i, a in items.items()])
        done.updated.extend((f"{pkg}:{entity}", i, a) for i, a in items.items())
    return done


def _create(evaluator, target: Expression, root: Row, new_id: str, values, creates, links, done: WriteBack) -> None:
    """Create the entity ``new_id`` at the end of ``target``, linked to the one entity before it
    (the bound entity itself for a two-hop walk: no query)."""
    prefix = Expression(target.hops[:-1])
    if len(prefix.hops) == 1 and not prefix.first.filters:
        parents = [root]
    else:
        parents = evaluator.evaluate(prefix, root=root.id)
    kind, attr = target.last.via
    if len(parents) != 1:
        done.notes.append(f"{root.id}: cannot create {new_id}: {len(parents)} entities precede it in {target}")
        return
    parent = parents[0]
    item = dict(values)
    if kind == "backward":
        item[attr] = parent.id
    else:
        prev = target.hops[-2]
        links.append((prev.package, prev.entity, parent.id, attr, new_id))
    creates.setdefault((target.last.package, target.last.entity), {})[new_id] = item


__all__ = ["WriteBack", "write_back"]
