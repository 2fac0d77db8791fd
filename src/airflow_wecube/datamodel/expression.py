"""WeCube's data-model expressions (定位规则): the AST, its text form, and the parser.

An expression walks the CMDB from one entity type to others::

    wecmdb:app_system{code eq 'UM'}~(app_system)wecmdb:unit.host>wecmdb:host.ip

- ``pkg:entity`` is a hop; ``{attr op value}`` filters it (several filters may follow each other);
- ``.attr>pkg:entity`` is a forward reference: the entities whose id is in the previous hop's ``attr``;
- ``~(attr)pkg:entity`` is a backward reference: the entities whose ``attr`` holds a previous hop's id;
- a trailing ``.attr`` selects that attribute of what the last hop reached.

Values are quoted (``'text'``, where ``''`` is a quote), lists (``['a','b']``), ``NULL`` or numbers.
A reference value ``'@@<id>@@<display>'`` means ``<id>``. Quoted text may hold any of ``>~.{}()``.
Pure: no Airflow import. The grammar and examples are in docs/data-model.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airflow_wecube.exceptions import WeCubeError

#: the filter operators WeCube's entity query understands
OPERATORS = ("eq", "neq", "in", "like", "notLike", "gt", "lt", "is", "isnot")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")  # package and entity names (wecube-monitor, service-mgmt)
_ATTR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?(?![A-Za-z0-9_])")
_REFERENCE = re.compile(r"@@(.*?)@@(.*)", re.S)


class ExpressionError(WeCubeError, ValueError):
    """An expression that does not parse, with where (0-based ``column``) and what was expected.

    ``str(error)`` shows the expression with a caret under the column.
    """

    def __init__(self, message: str, expression: str, column: int):
        self.message = message
        self.expression = expression
        self.column = column
        super().__init__(f"{message} at column {column + 1}\n  {expression}\n  {' ' * column}^")


@dataclass(frozen=True)
class Quoted:
    """A quoted value as written; ``condition`` is what a query compares with (a reference's id)."""

    text: str

    @property
    def condition(self) -> str:
        ref = _REFERENCE.fullmatch(self.text)
        return ref.group(1) if ref else self.text

    def __str__(self) -> str:
        return "'" + self.text.replace("'", "''") + "'"


Value = Quoted | int | float | None | tuple


def _render(value: Value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, tuple):
        return "[" + ",".join(_render(v) for v in value) + "]"
    return str(value)


def condition(value: Value) -> Any:
    """The value as the entity API's ``condition``: reference ids resolved, lists as lists."""
    if isinstance(value, tuple):
        return [condition(v) for v in value]
    if isinstance(value, Quoted):
        return value.condition
    return value


@dataclass(frozen=True)
class Filter:
    """``{attr op value}``."""

    attr: str
    op: str
    value: Value

    def __str__(self) -> str:
        return f"{{{self.attr} {self.op} {_render(self.value)}}}"

    def to_api(self) -> dict[str, Any]:
        """One ``additionalFilters`` element of an entity query."""
        return {"attrName": self.attr, "op": self.op, "condition": condition(self.value)}


@dataclass(frozen=True)
class Hop:
    """One ``pkg:entity{filters}``, reached from the previous hop by ``via``.

    :param via: ``None`` for the first hop, else ``("forward", attr)`` (``.attr>``: the previous
        hop's ``attr`` holds our ids) or ``("backward", attr)`` (``~(attr)``: our ``attr`` holds its ids)
    """

    package: str
    entity: str
    filters: tuple[Filter, ...] = ()
    via: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        return f"{self.package}:{self.entity}"

    def __str__(self) -> str:
        link = ""
        if self.via is not None:
            kind, attr = self.via
            link = f".{attr}>" if kind == "forward" else f"~({attr})"
        return link + self.name + "".join(str(f) for f in self.filters)


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its hops, and the attribute it selects (``None``: the entities)."""

    hops: tuple[Hop, ...]
    attr: str | None = None

    def __str__(self) -> str:
        return "".join(str(h) for h in self.hops) + (f".{self.attr}" if self.attr else "")

    @property
    def first(self) -> Hop:
        return self.hops[0]

    @property
    def last(self) -> Hop:
        return self.hops[-1]

    def target(self) -> Expression:
        """The same walk without the selected attribute: the entities that hold it."""
        return Expression(self.hops)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, message: str, at: int | None = None) -> ExpressionError:
        return ExpressionError(message, self.text, self.pos if at is None else at)

    def found(self) -> str:
        if self.pos >= len(self.text):
            return "the end"
        return repr(self.text[self.pos])

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def expect(self, s: str, what: str) -> None:
        if not self.peek(s):
            raise self.fail(f"expected {what}, found {self.found()}")
        self.pos += len(s)

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        m = pattern.match(self.text, self.pos)
        if not m:
            raise self.fail(f"expected {what}, found {self.found()}")
        self.pos = m.end()
        return m.group(0)

    def parse(self) -> Expression:
        if not self.text.strip():
            raise self.fail("expected an entity 'package:entity', found an empty expression")
        hops = [self.hop(None)]
        attr = None
        while self.pos < len(self.text):
            if self.peek("~"):
                self.pos += 1
                self.expect("(", "'(' after '~' (a backward reference is ~(attr)pkg:entity)")
                ref = self.match(_ATTR, "an attribute name inside ~( )")
                self.expect(")", "')' closing ~(" + ref)
                hops.append(self.hop(("backward", ref)))
            elif self.peek("."):
                self.pos += 1
                name = self.match(_ATTR, "an attribute name after '.'")
                if self.peek(">"):
                    self.pos += 1
                    hops.append(self.hop(("forward", name)))
                elif self.pos == len(self.text):
                    attr = name
                else:
                    raise self.fail(
                        f"expected '>' (a forward reference .{name}>pkg:entity) or the end (a trailing .{name}),"
                        f" found {self.found()}"
                    )
            else:
                raise self.fail(
                    f"expected '.attr>' (forward), '~(attr)' (backward), '.attr' at the end or a filter '{{', "
                    f"found {self.found()}"
                )
        return Expression(tuple(hops), attr)

    def hop(self, via: tuple[str, str] | None) -> Hop:
        package = self.match(_NAME, "a package name (an entity is written package:entity)")
        self.expect(":", f"':' after package {package!r} (an entity is written package:entity)")
        entity = self.match(_NAME, f"an entity name after '{package}:'")
        filters = []
        while self.peek("{"):
            filters.append(self.filter())
        return Hop(package, entity, tuple(filters), via)

    def filter(self) -> Filter:
        self.pos += 1
        self.skip_spaces()
        attr = self.match(_ATTR, "an attribute name in the filter {attr op value}")
        self.skip_spaces()
        start = self.pos
        op = self.match(re.compile(r"[A-Za-z]+"), "an operator (" + " ".join(OPERATORS) + ")")
        if op not in OPERATORS:
            close = [o for o in OPERATORS if o.lower() == op.lower()]
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.fail(f"unknown operator {op!r}{hint}: expected one of {' '.join(OPERATORS)}", start)
        self.skip_spaces()
        value = self.value(op)
        self.skip_spaces()
        self.expect("}", "'}' closing the filter")
        return Filter(attr, op, value)

    def value(self, op: str) -> Value:
        start = self.pos
        if self.peek("["):
            value: Value = self.list()
        elif self.peek("'"):
            value = self.quoted()
        elif self.peek("NULL"):
            self.pos += 4
            value = None
        elif m := _NUMBER.match(self.text, self.pos):
            self.pos = m.end()
            value = float(m.group(0)) if m.group(1) else int(m.group(0))
        else:
            raise self.fail(f"expected a value ('text', ['a','b'], NULL or a number), found {self.found()}")
        if op == "in" and not isinstance(value, tuple):
            raise self.fail("expected a list ['a','b'] after 'in'", start)
        if op in ("is", "isnot") and value is not None:
            raise self.fail(f"expected NULL after {op!r}", start)
        return value

    def quoted(self) -> Quoted:
        start = self.pos
        self.pos += 1
        out = []
        while True:
            end = self.text.find("'", self.pos)
            if end < 0:
                raise self.fail("expected a closing quote for the text that starts here", start)
            out.append(self.text[self.pos : end])
            self.pos = end + 1
            if self.peek("'"):  # '' is a quote inside the text
                out.append("'")
                self.pos += 1
                continue
            return Quoted("".join(out))

    def list(self) -> tuple:
        self.pos += 1
        items: list[Value] = []
        self.skip_spaces()
        if self.peek("]"):
            self.pos += 1
            return ()
        while True:
            self.skip_spaces()
            if self.peek("'"):
                items.append(self.quoted())
            elif m := _NUMBER.match(self.text, self.pos):
                self.pos = m.end()
                items.append(float(m.group(0)) if m.group(1) else int(m.group(0)))
            else:
                raise self.fail(f"expected a list item ('text' or a number), found {self.found()}")
            self.skip_spaces()
            if self.peek(","):
                self.pos += 1
                continue
            self.expect("]", "',' or ']' in the list")
            return tuple(items)


def parse(text: str) -> Expression:
    """Parse an expression; :class:`ExpressionError` shows where it went wrong and what was expected."""
    if not isinstance(text, str):
        raise TypeError(f"an expression is text, got {type(text).__name__}")
    return _Parser(text).parse()


__all__ = ["OPERATORS", "Expression", "ExpressionError", "Filter", "Hop", "Quoted", "condition", "parse"]
