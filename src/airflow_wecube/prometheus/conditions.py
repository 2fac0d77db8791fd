"""The condition language of ``PrometheusQuerySensor``.

A condition is one clause or several joined by ``and``. A clause is::

    [all|any] OP NUMBER     every (default) / at least one series' value compares true
    count OP INTEGER        the number of series in the result

with ``OP`` one of ``== != < <= > >=``. Examples: ``"== 1"`` (every series is 1),
``"< 0.01"``, ``"any > 0"``, ``"count >= 3"``, ``"count == 0"`` (no series),
``"all == 1 and count >= 3"``. ``all`` needs at least one series: an empty result does not
pass ``"== 1"`` (a target that is not scraped yet must not open the gate); NaN never passes.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?[Ii]nf|NaN|nan"
_CLAUSE_RE = re.compile(rf"^\s*(?:(all|any|count)\s*)?(==|!=|<=|>=|<|>)\s*({_NUMBER})\s*$", re.IGNORECASE)
_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    """One ``[all|any|count] OP NUMBER`` clause."""

    quantifier: str
    op: str
    number: float

    def __str__(self) -> str:
        num = int(self.number) if self.number.is_integer() else self.number
        return f"{self.quantifier} {self.op} {num}"


@dataclass(frozen=True)
class Condition:
    """A parsed condition; :func:`parse_condition` builds it."""

    text: str
    clauses: tuple[Clause, ...]

    def evaluate(self, series: Iterable[Mapping[str, Any]]) -> ConditionResult:
        """Check ``series`` (dicts with ``labels`` and ``value``) against every clause."""
        series = list(series)
        problems: list[str] = []
        failing: dict[int, Mapping[str, Any]] = {}
        for clause in self.clauses:
            cmp = _OPS[clause.op]
            if clause.quantifier == "count":
                if not cmp(len(series), clause.number):
                    problems.append(f"{clause}: got {len(series)} series")
                continue
            if not series:
                problems.append(f"{clause}: the query returned no series")
                continue
            bad = [i for i, s in enumerate(series) if not _holds(cmp, s.get("value"), clause.number)]
            if clause.quantifier == "all" and bad:
                problems.append(f"{clause}: {len(bad)} of {len(series)} series fail")
                failing.update((i, series[i]) for i in bad)
            elif clause.quantifier == "any" and len(bad) == len(series):
                problems.append(f"{clause}: none of {len(series)} series passes")
                failing.update((i, series[i]) for i in bad)
        return ConditionResult(
            ok=not problems,
            condition=self.text,
            problems=problems,
            failing=[failing[i] for i in sorted(failing)],
            series_count=len(series),
        )


@dataclass
class ConditionResult:
    """Outcome of :meth:`Condition.evaluate`: ``ok``, what failed and which series."""

    ok: bool
    condition: str
    problems: list[str] = field(default_factory=list)
    failing: list[Mapping[str, Any]] = field(default_factory=list)
    series_count: int = 0

    def describe(self, limit: int = 10) -> str:
        """One log-friendly paragraph: the verdict, the failed clauses and up to ``limit`` failing series."""
        if self.ok:
            return f"condition {self.condition!r} holds for {self.series_count} series"
        lines = [f"condition {self.condition!r} not met: " + "; ".join(self.problems)]
        for s in self.failing[:limit]:
            lines.append(f"  failing: {format_series(s)}")
        if len(self.failing) > limit:
            lines.append(f"  ... and {len(self.failing) - limit} more failing series")
        return "\n".join(lines)


def _holds(cmp, value: Any, number: float) -> bool:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return False
    if math.isnan(value):
        return False
    return bool(cmp(value, number))


def format_series(series: Mapping[str, Any]) -> str:
    """``metric{a="b"} = value`` for logs."""
    labels = dict(series.get("labels") or {})
    name = labels.pop("__name__", "")
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}} = {series.get('value')}"


def parse_condition(condition: str) -> Condition:
    """Parse a condition string; raises :class:`ValueError` saying what is wrong."""
    if not isinstance(condition, str) or not condition.strip():
        raise ValueError(f"condition must be a non-empty string such as '== 1', got {condition!r}")
    clauses = []
    for part in _AND_RE.split(condition.strip()):
        match = _CLAUSE_RE.match(part)
        if not match:
            raise ValueError(
                f"invalid condition {condition!r}: clause {part.strip()!r} is not '[all|any|count] OP NUMBER' "
                "(OP one of == != < <= > >=), e.g. '== 1', '< 0.01', 'any > 0', 'count >= 3'"
            )
        quantifier = (match.group(1) or "all").lower()
        number = float(match.group(3))
        if quantifier == "count" and not (number.is_integer() and number >= 0):
            raise ValueError(f"invalid condition {condition!r}: count needs a whole number >= 0, got {match.group(3)}")
        if math.isnan(number):
            raise ValueError(f"invalid condition {condition!r}: NaN never compares true")
        clauses.append(Clause(quantifier, match.group(2), number))
    return Condition(text=condition.strip(), clauses=tuple(clauses))


def jsonable_series(series: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Series as plain JSON (for XCom and trigger events): labels, value, timestamp; NaN/Inf as strings."""
    out = []
    for s in series:
        value = s.get("value")
        if isinstance(value, float) and not math.isfinite(value):
            value = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        out.append({"labels": dict(s.get("labels") or {}), "value": value, "timestamp": s.get("timestamp")})
    return out
