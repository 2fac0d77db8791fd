"""What the account service's load generator runs: per-operation rates and CPU costs, the demo
behaviour read from a version's build metadata, and the checks of a ``POST /load`` request.

Pure functions and constants (no HTTP, no threads), shared by the service, its CLI and the
``deploy`` plugin, so the three agree on names, defaults and bounds.

**Demo behaviour** (documented in ``docs/demo.md`` and ``docs/capacity.md``): the build metadata of
a semantic version (what follows ``+``, dot-separated identifiers) changes what the build costs:

* ``+slowclose`` doubles the close cost (``1.1.0+slowclose``): a regression the capacity probe catches;
* ``+transfers`` turns on the ``transfer`` operation (without it transfers are not performed
  whatever the rate and ``accounts_transferred_total`` stays 0): a new business factor.

Both may be combined (``1.2.0+slowclose.transfers``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: the business operations, in the order they are reported
OPERATIONS: tuple[str, ...] = ("open", "close", "transfer")
#: the highest rate accepted per operation (per second): beyond it the busy loops would eat whole cores
MAX_RATE = 500.0
#: the highest relative amplitude of the demo's slow load wave
MAX_WAVE = 0.9
#: the default rates (per second): opens and closes as before (closes 0.6 of opens), a few transfers
DEFAULT_RATES: dict[str, float] = {"open": 5.0, "close": 3.0, "transfer": 2.0}
#: the default CPU seconds per operation (closing costs more than opening)
DEFAULT_COSTS: dict[str, float] = {"open": 0.001, "close": 0.002, "transfer": 0.0015}
#: the highest CPU seconds per operation a deploy may ask for
MAX_COST = 0.05
#: periods (seconds) of the slow wave per operation: different, so the operations vary independently
WAVE_PERIODS: dict[str, float] = {"open": 600.0, "close": 420.0, "transfer": 780.0}
#: build metadata identifiers with a demo meaning
SLOWCLOSE, TRANSFERS = "slowclose", "transfers"

#: the keys ``POST /load`` accepts
LOAD_KEYS: tuple[str, ...] = ("open_rate", "close_rate", "transfer_rate", "wave")


def build_metadata(version: str) -> tuple[str, ...]:
    """The build metadata identifiers of a semantic version: ``1.1.0+slowclose.x`` -> ``("slowclose", "x")``."""
    _, plus, meta = version.partition("+")
    return tuple(i.strip().lower() for i in meta.split(".") if i.strip()) if plus else ()


def transfers_enabled(version: str) -> bool:
    """Whether this build performs transfers (demo behaviour: ``+transfers`` in its build metadata)."""
    return TRANSFERS in build_metadata(version)


def effective_costs(version: str, costs: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds per operation this build really spends: ``+slowclose`` doubles the close cost."""
    out = {op: float(costs[op]) for op in OPERATIONS}
    if SLOWCLOSE in build_metadata(version):
        out["close"] *= 2
    return out


def check_rate(name: str, value: Any) -> float:
    """A rate per second in ``[0, MAX_RATE]``; :class:`ValueError` naming ``name`` otherwise."""
    return _number(name, value, 0.0, MAX_RATE, "per second")


def check_wave(value: Any) -> float:
    return _number("wave", value, 0.0, MAX_WAVE, "(relative amplitude of the slow load wave)")


def check_cost(name: str, value: Any) -> float:
    """CPU seconds per operation in ``[0, MAX_COST]``."""
    return _number(name, value, 0.0, MAX_COST, "CPU seconds per operation")


def _number(name: str, value: Any, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a number between {low:g} and {high:g} {unit}, got {value!r}")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number between {low:g} and {high:g} {unit}, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g} {unit}, got {value!r}")
    return number


def parse_load(body: Any, query: Mapping[str, list[str]]) -> dict[str, float]:
    """The settings of a ``POST /load``: a JSON object body and/or query parameters.

    Keys: ``open_rate``, ``close_rate``, ``transfer_rate`` (per second, 0-500) and ``wave``
    (0-0.9). At least one is needed; a key given twice (body and query, or twice in the query),
    an unknown key or a bad value is refused (:class:`ValueError` naming every problem), so that a
    bad request changes nothing.

    :return: ``{key: value}`` of the keys given
    """
    problems: list[str] = []
    given: dict[str, Any] = {}
    if body is not None and not isinstance(body, dict):
        raise ValueError(f'the body must be a JSON object such as {{"open_rate": 10}}, got {type(body).__name__}')
    for key, values in query.items():
        if len(values) != 1:
            problems.append(f"{key} is given {len(values)} times in the query")
        given[key] = values[-1]
    for key, value in (body or {}).items():
        if key in given:
            problems.append(f"{key} is given both in the body and in the query")
        given[key] = value
    unknown = sorted(k for k in given if k not in LOAD_KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}: give any of {', '.join(LOAD_KEYS)}")
    out: dict[str, float] = {}
    for key in LOAD_KEYS:
        if key in given:
            try:
                out[key] = check_wave(given[key]) if key == "wave" else check_rate(key, given[key])
            except ValueError as e:
                problems.append(str(e))
    if not given and not problems:
        problems.append(f"nothing to change: give any of {', '.join(LOAD_KEYS)} (JSON body or query)")
    if problems:
        raise ValueError("; ".join(problems))
    return out


__all__ = [
    "DEFAULT_COSTS",
    "DEFAULT_RATES",
    "LOAD_KEYS",
    "MAX_COST",
    "MAX_RATE",
    "MAX_WAVE",
    "OPERATIONS",
    "WAVE_PERIODS",
    "build_metadata",
    "check_cost",
    "check_rate",
    "check_wave",
    "effective_costs",
    "parse_load",
    "transfers_enabled",
]
