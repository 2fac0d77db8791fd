"""A package's data model (``GET {base}/{pkg}/data-model``) and the checks an expression must pass.

Every entity, attribute and reference of an expression is checked against the data models of its
packages before any query is sent, and each unknown name is reported with the closest existing one.
Pure: no Airflow import.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_wecube.datamodel.expression import Expression
from airflow_wecube.exceptions import WeCubeError

#: attributes every entity has, whatever its data model says
BUILTIN = ("id", "displayName")


class DataModelError(WeCubeError):
    """An expression names what the data model does not have (every problem at once), or a data
    model cannot be read."""


def closest(name: str, names: Iterable[str]) -> str:
    """`` (closest: xyz)`` or ``""``: the hint added to an unknown name."""
    found = difflib.get_close_matches(name, list(names), n=1, cutoff=0.5)
    return f" (closest: {found[0]})" if found else ""


@dataclass(frozen=True)
class Attribute:
    name: str
    data_type: str = "str"
    ref_package: str = ""
    ref_entity: str = ""
    description: str = ""

    @property
    def is_ref(self) -> bool:
        return self.data_type == "ref"

    def to_api(self) -> dict[str, Any]:
        out = {"name": self.name, "dataType": self.data_type, "description": self.description}
        if self.is_ref:
            out.update(refPackageName=self.ref_package, refEntityName=self.ref_entity)
        return out


@dataclass(frozen=True)
class EntityType:
    package: str
    name: str
    attributes: dict[str, Attribute] = field(default_factory=dict)
    display_name: str = ""
    description: str = ""

    def attribute(self, name: str) -> Attribute | None:
        if name in BUILTIN:
            return Attribute(name)
        return self.attributes.get(name)

    def names(self) -> list[str]:
        return [*BUILTIN, *self.attributes]

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "displayName": self.display_name or self.name,
            "description": self.description,
            "attributes": [a.to_api() for a in self.attributes.values()],
        }


@dataclass(frozen=True)
class DataModel:
    """The entities of one package."""

    package: str
    entities: dict[str, EntityType] = field(default_factory=dict)

    @classmethod
    def from_api(cls, package: str, data: Any) -> DataModel:
        """From the ``data`` of ``GET /{pkg}/data-model``: ``{"packageName", "entities": [...]}``."""
        if not isinstance(data, dict) or not isinstance(data.get("entities"), list):
            raise DataModelError(f"the data model of package {package!r} has no 'entities' list: {str(data)[:200]}")
        entities = {}
        for e in data["entities"]:
            attrs = {}
            for a in e.get("attributes") or []:
                attrs[a["name"]] = Attribute(
                    a["name"],
                    a.get("dataType") or "str",
                    a.get("refPackageName") or "",
                    a.get("refEntityName") or "",
                    a.get("description") or "",
                )
            entities[e["name"]] = EntityType(
                package, e["name"], attrs, e.get("displayName") or "", e.get("description") or ""
            )
        return cls(package, entities)

    def to_api(self) -> dict[str, Any]:
        return {"packageName": self.package, "entities": [e.to_api() for e in self.entities.values()]}


def check(expression: Expression, model_of: Callable[[str], DataModel]) -> None:
    """Refuse, before any query, an expression naming an unknown entity, attribute or reference.

    :param model_of: the data model of a package (a package that has none raises :class:`DataModelError`)
    :raises DataModelError: every problem, each with the closest existing name
    """
    problems: list[str] = []
    types: list[EntityType | None] = []
    for hop in expression.hops:
        model = model_of(hop.package)
        etype = model.entities.get(hop.entity)
        if etype is None:
            problems.append(f"package {hop.package} has no entity {hop.entity!r}{closest(hop.entity, model.entities)}")
        types.append(etype)
    for i, hop in enumerate(expression.hops):
        etype = types[i]
        if etype is None:
            continue
        for f in hop.filters:
            if etype.attribute(f.attr) is None:
                problems.append(f"{hop.name} has no attribute {f.attr!r}{closest(f.attr, etype.names())} (filter {f})")
        if hop.via is None:
            continue
        kind, ref = hop.via
        prev = types[i - 1]
        holder, target = (prev, etype) if kind == "forward" else (etype, prev)
        if holder is None or target is None:
            continue
        attr = holder.attribute(ref)
        shown = f".{ref}>" if kind == "forward" else f"~({ref})"
        if attr is None:
            problems.append(
                f"{holder.package}:{holder.name} has no attribute {ref!r}{closest(ref, holder.names())} ({shown})"
            )
        elif not attr.is_ref:
            refs = [a.name for a in holder.attributes.values() if a.is_ref]
            problems.append(
                f"{holder.package}:{holder.name}.{ref} is not a reference ({shown} needs one; references: "
                f"{', '.join(refs) or 'none'})"
            )
        elif (attr.ref_package, attr.ref_entity) != (target.package, target.name):
            problems.append(
                f"{holder.package}:{holder.name}.{ref} refers to {attr.ref_package}:{attr.ref_entity}, "
                f"not {target.package}:{target.name} ({shown})"
            )
    last = types[-1]
    if expression.attr and last is not None and last.attribute(expression.attr) is None:
        problems.append(
            f"{last.package}:{last.name} has no attribute {expression.attr!r}{closest(expression.attr, last.names())}"
        )
    if problems:
        raise DataModelError(f"{expression}: " + "; ".join(problems))


__all__ = ["BUILTIN", "Attribute", "DataModel", "DataModelError", "EntityType", "check", "closest"]
