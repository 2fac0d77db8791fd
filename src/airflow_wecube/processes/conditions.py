"""The safe subset of BPMN flow conditions: ``${name == 'value' && count > 2}`` and no more.

Camunda evaluates JUEL (Java); here a condition is parsed by this small grammar and evaluated
over a dict, never by ``eval``. The subset (docs/processes.md): names (``a`` or ``a.b``), string,
number, ``true``/``false``/``null`` literals, ``== != < <= > >=``, ``!``, ``&&``, ``||`` and
parentheses, inside ``${...}``. Anything else (method calls, arithmetic, ``execution``) is refused.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LENGTH = 500
MAX_NESTING = 10
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_WORDS = {"true": True, "false": False, "null": None}
_KEYWORDS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}


class ConditionError(ValueError):
    """A condition outside the safe subset."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"unexpected {text[pos:].strip()[:20]!r}")
        pos = m.end()
        if m["str"]:
            out.append(("lit", re.sub(r"\\(.)", r"\1", m["str"][1:-1])))
        elif m["num"]:
            out.append(("lit", float(m["num"]) if "." in m["num"] else int(m["num"])))
        elif m["op"]:
            out.append(("op", m["op"]))
        elif m["name"] in _WORDS:
            out.append(("lit", _WORDS[m["name"]]))
        elif m["name"] in _KEYWORDS:
            raise ConditionError(f"{m['name']!r} is not in the subset: write {_KEYWORDS[m['name']]}")
        else:
            out.append(("name", m["name"]))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise ConditionError("the condition ends too early")
        self.i += 1
        return tok

    def either(self, op: str, sub) -> Any:
        node = sub()
        while self.peek() == ("op", op):
            self.i += 1
            node = (op, node, sub())
        return node

    def or_(self):
        return self.either("||", self.and_)

    def and_(self):
        return self.either("&&", self.unary)

    def unary(self):
        tok = self.peek()
        if tok == ("op", "!"):
            self.i += 1
            return ("!", self.unary())
        if tok == ("op", "("):
            self.i += 1
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise ConditionError(f"parentheses nested deeper than {MAX_NESTING}")
            node = self.or_()
            if self.take() != ("op", ")"):
                raise ConditionError("a '(' is not closed")
            self.depth -= 1
            return node
        left = self.operand()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in _COMPARE:
            self.i += 1
            return (tok[1], left, self.operand())
        return left

    def operand(self):
        kind, value = self.take()
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if self.peek() == ("op", "("):
                raise ConditionError(f"calls ({value}(...)) are not in the subset")
            return ("name", value)
        raise ConditionError(f"expected a name or a value, got {value!r}")


def parse_condition(text: str) -> tuple:
    """The syntax tree of ``${...}``; :class:`ConditionError` names what is outside the subset."""
    body = text.strip()
    if len(body) > MAX_LENGTH:
        raise ConditionError(f"longer than {MAX_LENGTH} characters")
    if not (body.startswith("${") and body.endswith("}")):
        raise ConditionError("a condition is written ${...}")
    parser = _Parser(_tokens(body[2:-1]))
    if not parser.tokens:
        raise ConditionError("the condition is empty")
    tree = parser.or_()
    if parser.peek() is not None:
        raise ConditionError(f"unexpected {parser.peek()[1]!r}")
    return tree


def names(tree: tuple) -> set[str]:
    """The variable names a condition reads."""
    if tree[0] == "name":
        return {tree[1]}
    if tree[0] == "lit":
        return set()
    return set().union(*(names(t) for t in tree[1:]))


def evaluate(tree: tuple, variables: dict[str, Any]) -> bool:
    """The condition's value over ``variables`` (a dotted name reads nested dicts; missing -> None)."""

    def value(node):
        op = node[0]
        if op == "lit":
            return node[1]
        if op == "name":
            cur: Any = variables
            for part in node[1].split("."):
                cur = cur.get(part) if isinstance(cur, dict) else None
            return cur
        if op == "!":
            return not value(node[1])
        if op == "&&":
            return bool(value(node[1])) and bool(value(node[2]))
        if op == "||":
            return bool(value(node[1])) or bool(value(node[2]))
        a, b = value(node[1]), value(node[2])
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        try:
            return _order(op, a, b)
        except TypeError:
            return False

    return bool(value(tree))


def _order(op: str, a, b) -> bool:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b
