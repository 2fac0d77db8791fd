"""A load schedule a regression can separate: each operation's rate varied on its own.

When one rate is a fixed share of another (closes = 0.6 × opens), no fit can tell their costs
apart. :func:`design_schedule` builds a small Latin hypercube over given rate ranges: every
operation takes each of ``steps`` evenly spaced levels exactly once, in an order chosen so that no
rate moves with another. Of ``tries`` random orders (a seeded generator, so the same arguments
always give the same schedule) it keeps the one whose largest variance inflation factor is the
smallest, and refuses a schedule whose VIF reaches :data:`MAX_VIF`.

Pure numpy: no Airflow, no pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: the largest variance inflation factor a schedule may have (every feature separable from the others)
MAX_VIF = 5.0
#: fewest steps of a schedule: enough to fit a few rates and an intercept with degrees of freedom left
MIN_STEPS = 6


class DesignError(ValueError):
    """The rate ranges or step count cannot give a separable schedule."""


def check_design(ranges: Mapping[str, Sequence[float]], steps: int) -> dict[str, tuple[float, float]]:
    """The ranges as ``{name: (low, high)}`` once ranges and step count are checked (no numpy: cheap at DAG parse).

    :raises DesignError: naming every bad range, or too few steps
    """
    bounds = _check_ranges(ranges)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < MIN_STEPS:
        raise DesignError(f"a schedule needs at least {MIN_STEPS} steps, got {steps!r}")
    if steps <= len(bounds) + 1:
        raise DesignError(f"{len(bounds)} rates and an intercept need more than {len(bounds) + 1} steps, got {steps}")
    return bounds


def _check_ranges(ranges: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    if not isinstance(ranges, Mapping) or not ranges:
        raise DesignError("give at least one rate range, e.g. {'open_rate': [5, 60]}")
    out: dict[str, tuple[float, float]] = {}
    problems = []
    for name, bounds in ranges.items():
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            problems.append(f"{name}: a range is [low, high], got {bounds!r}")
            continue
        if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high <= low:
            problems.append(f"{name}: need 0 <= low < high, got [{low:g}, {high:g}]")
            continue
        out[str(name)] = (low, high)
    if problems:
        raise DesignError("bad rate range(s): " + "; ".join(problems))
    return out


def design_schedule(
    ranges: Mapping[str, Sequence[float]],
    steps: int = 8,
    *,
    seed: int = 0,
    tries: int = 400,
    max_vif: float = MAX_VIF,
) -> list[dict[str, float]]:
    """A Latin-hypercube load schedule: ``steps`` dicts of ``{rate name: rate}``.

    :param ranges: ``{rate name: [low, high]}`` (e.g. ``{"open_rate": [10, 100], "close_rate": [10, 80]}``)
    :param steps: how many load steps (at least :data:`MIN_STEPS`, and more than the number of rates)
    :param seed: the random generator's seed; the same arguments give the same schedule
    :param tries: random orders tried; the one with the smallest largest VIF wins
    :param max_vif: refuse the schedule when even the best order reaches this VIF
    :raises DesignError: bad ranges, too few steps, or no separable order found
    """
    import numpy as np

    from airflow_wecube.capacity.ols import vif

    bounds = check_design(ranges, steps)
    rng = np.random.default_rng(seed)
    levels = (np.arange(steps) + 0.5) / steps  # the centres of `steps` equal strata of [0, 1]
    best, best_score = None, math.inf
    for _ in range(max(1, int(tries))):
        unit = np.column_stack([rng.permutation(levels) for _ in bounds])
        score = max(vif(unit)) if unit.shape[1] > 1 else 1.0
        if score < best_score:
            best, best_score = unit, score
            if score < 1.05:
                break
    if best is None or not best_score < max_vif:
        raise DesignError(f"no order of {steps} steps keeps every VIF below {max_vif:g} (best {best_score:.2f})")
    schedule = []
    for row in best:
        step = {}
        for (name, (low, high)), u in zip(bounds.items(), row, strict=True):
            step[name] = round(low + u * (high - low), 3)
        schedule.append(step)
    return schedule


def schedule_vif(schedule: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """VIF of each rate over a schedule (what :func:`design_schedule` keeps below :data:`MAX_VIF`)."""
    import numpy as np

    from airflow_wecube.capacity.ols import vif

    names = list(schedule[0])
    matrix = np.array([[float(s[n]) for n in names] for s in schedule])
    return dict(zip(names, vif(matrix), strict=True))


def describe(schedule: Sequence[Mapping[str, Any]]) -> str:
    """The schedule as a Markdown table (one row per step)."""
    names = list(schedule[0])
    head = "| step | " + " | ".join(names) + " |\n|---|" + "---|" * len(names)
    rows = [f"| {i + 1} | " + " | ".join(f"{s[n]:g}" for n in names) + " |" for i, s in enumerate(schedule)]
    return "\n".join([head, *rows])


__all__ = ["MAX_VIF", "MIN_STEPS", "DesignError", "check_design", "describe", "design_schedule", "schedule_vif"]
