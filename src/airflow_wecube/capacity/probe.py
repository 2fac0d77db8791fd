"""The capacity probe's data: the spec narrowed to the canary, the probe's timeline, and the samples it keeps.

A probe holds each load step of a designed schedule (:mod:`~airflow_wecube.capacity.design`) for a
few scrape intervals and fits the spec on what the canary did meanwhile. Three things make that
data fit for it:

* **only the canary** (:func:`restrict_promql`): the label matcher ``instance=~"<canary targets>"``
  is added to every vector selector of the spec's PromQL (target, features and candidates), so a
  ``sum(rate(process_cpu_seconds_total{job="x"}[1m]))`` sums the canary's series alone. No
  placeholder is needed in the spec: the nightly refit reads the same PromQL over every instance.
* **short rate windows** (:func:`probe_spec`): every range selector becomes ``[2 × scrape interval]``
  and the query step the scrape interval. ``rate()`` only uses the samples inside its window, so a
  sample evaluated two intervals after a step began uses two scrapes both taken after the change.
* **no transition** (:func:`kept_mask`): a sample counts only when its whole rate window lies in one
  step: the scrape interval in which the load changed (the step's first interval) never reaches
  the fit. A step held ``h`` intervals gives ``h - 1`` samples.

Pure: no Airflow, no network; the operator (:mod:`airflow_wecube.operators.capacity`) drives it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_wecube.capacity.errors import CapacityError
from airflow_wecube.capacity.spec import CapacitySpec

#: rate windows of the probe, in scrape intervals (rate() needs two samples in its window)
RANGE_INTERVALS = 2
#: fewest scrape intervals a step is held (its first one is discarded)
MIN_HOLD = 3

# PromQL words that are not metric names (aggregations may put "by (...)" before their parenthesis)
_KEYWORDS = frozenset(
    "and or unless bool offset by without on ignoring group_left group_right atan2 inf nan "
    "sum avg min max count group stddev stdvar topk bottomk quantile count_values limitk limit_ratio".split()
)
_LABEL_LISTS = frozenset("by without on ignoring group_left group_right".split())
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      |(?P<range>\[[^\]]*\])
      |(?P<braces>\{(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|[^{}"'`])*\})
      |(?P<number>\d[\w.]*)
      |(?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
      |(?P<other>.)""",
    re.X | re.S,
)
_DURATION_RANGE = re.compile(r"\[\s*((?:\d+(?:ms|s|m|h|d|w|y))+)\s*(:\s*(?:(?:\d+(?:ms|s|m|h|d|w|y))+)?\s*)?\]")


class ProbeDataError(CapacityError):
    """The probe got too little data to fit; nothing was stored and the baseline is unchanged."""


def instance_matcher(instances: Sequence[str]) -> str:
    """``instance=~"a|b"`` for the canary targets (``host:port``), regex-escaped."""
    if not instances:
        raise ValueError("a probe needs at least one canary instance (host:port)")
    alternatives = "|".join(re.escape(str(i)).replace("\\", "\\\\").replace('"', '\\"') for i in instances)
    return f'instance=~"{alternatives}"'


def restrict_promql(query: str, matcher: str) -> str:
    """Add the label ``matcher`` to every vector selector of ``query``.

    ``sum(rate(x_total{job="a"}[1m]))`` → ``sum(rate(x_total{job="a",instance=~"..."}[1m]))``;
    a bare ``x_total`` gets ``{instance=~"..."}``. Function and aggregation names, keywords, label
    lists of ``by``/``without``/``on``/``ignoring``/``group_*``, strings, numbers and ranges are left alone.
    """
    out: list[str] = []
    tokens = list(_TOKEN.finditer(query))
    i = 0
    while i < len(tokens):
        m = tokens[i]
        kind, text = m.lastgroup, m.group()
        nxt = _next_significant(tokens, i + 1)
        if kind == "ident" and text in _LABEL_LISTS and nxt is not None and nxt.group() == "(":
            # by (instance, job): copy the label list as it is
            j, depth = tokens.index(nxt), 0
            out.append("".join(t.group() for t in tokens[i:j]))
            while j < len(tokens):
                t = tokens[j].group()
                depth += (t == "(") - (t == ")")
                out.append(t)
                if depth == 0:
                    break
                j += 1
            i = j
        elif kind == "ident" and (text in _KEYWORDS or (nxt is not None and nxt.group() == "(")):
            out.append(text)  # a function, an aggregation or a keyword
        elif kind == "ident" and nxt is not None and nxt.lastgroup == "braces":
            j = tokens.index(nxt)  # metric {...}: the spaces between, then the matchers with ours added
            out.append(text + "".join(t.group() for t in tokens[i + 1 : j]) + _add_matcher(nxt.group(), matcher))
            i = j
        elif kind == "ident":
            out.append(text + "{" + matcher + "}")
        elif kind == "braces":
            out.append(_add_matcher(text, matcher))  # a selector without a metric name: {__name__=~"..."}
        else:
            out.append(text)
        i += 1
    return "".join(out)


def _next_significant(tokens: list[re.Match], start: int) -> re.Match | None:
    for t in tokens[start:]:
        if not t.group().isspace():
            return t
    return None


def _add_matcher(braces: str, matcher: str) -> str:
    inner = braces[1:-1].strip().rstrip(",").strip()
    return "{" + (f"{inner},{matcher}" if inner else matcher) + "}"


def format_duration(td: timedelta) -> str:
    """A PromQL duration, to the millisecond (``10s``, ``500ms``): sub-second scrape intervals exist."""
    ms = round(td.total_seconds() * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def rewrite_ranges(query: str, window: timedelta) -> str:
    """Every range selector ``[1m]`` (and a subquery's range) becomes ``[window]``."""
    text = format_duration(window)
    return _DURATION_RANGE.sub(lambda m: f"[{text}{m.group(2) or ''}]", query)


def probe_spec(
    spec: CapacitySpec, instances: Sequence[str], scrape_interval: timedelta, *, name: str | None = None
) -> CapacitySpec:
    """The spec as the probe fits it: canary instances only, rate windows of two scrape intervals,
    one sample per scrape interval, gates on the probe's own sample count (the spec's
    ``gates.min_samples`` is sized for a week of history; :func:`min_samples` is used instead)."""
    matcher = instance_matcher(instances)
    window = scrape_interval * RANGE_INTERVALS

    def narrow(q: str) -> str:
        return rewrite_ranges(restrict_promql(q, matcher), window)

    data = spec.model_dump(by_alias=True)
    data.update(
        target=narrow(spec.target),
        features={k: narrow(q) for k, q in spec.features.items()},
        step=format_duration(scrape_interval),
        window=spec.window if spec.window_td > scrape_interval * 2 else format_duration(scrape_interval * 3),
        hac_lags="auto",
        name=name or spec.name,
    )
    if "candidates" in data:
        data["candidates"] = {k: narrow(q) for k, q in data["candidates"].items()}
    data["gates"] = {**data["gates"], "min_samples": min_samples(spec)}
    return CapacitySpec.model_validate(data)


def min_samples(spec: CapacitySpec) -> int:
    """Fewest samples a probe fit accepts: four per parameter of the largest model it fits (features,
    one candidate, the intercept), and never fewer than 12."""
    return max(12, 4 * (len(spec.features) + 2))


@dataclass(frozen=True)
class Step:
    """One load step as it ran: its rates and when it began and ended (UTC)."""

    rates: dict[str, float]
    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"rates": dict(self.rates), "start": self.start.isoformat(), "end": self.end.isoformat()}


def kept_mask(index: Any, steps: Sequence[Step], scrape_interval: timedelta) -> Any:
    """True for the sample times whose whole rate window lies inside one step
    (``step.start + window <= t <= step.end``): the step's first interval is left out."""
    import numpy as np

    window = scrape_interval * RANGE_INTERVALS
    keep = np.zeros(len(index), dtype=bool)
    for s in steps:
        keep |= (index >= s.start + window) & (index <= s.end)
    return keep


def step_of(index: Any, steps: Sequence[Step]) -> list[int | None]:
    """The step number (0-based) of each sample time, None outside every step."""
    out: list[int | None] = []
    for t in index:
        out.append(next((i for i, s in enumerate(steps) if s.start <= t <= s.end), None))
    return out


def check_probe_params(steps: int, hold_intervals: int, scrape_interval: timedelta) -> None:
    """Refuse a probe that cannot give separable, clean data (before any load is changed)."""
    problems = []
    if hold_intervals < MIN_HOLD:
        problems.append(
            f"hold_intervals={hold_intervals}: each step must be held at least {MIN_HOLD} scrape intervals "
            "(the first is discarded)"
        )
    if scrape_interval <= timedelta(0):
        problems.append(f"scrape_interval must be above zero, got {scrape_interval}")
    if problems:
        raise ValueError("; ".join(problems))


def duration(steps: int, hold_intervals: int, scrape_interval: timedelta) -> timedelta:
    """How long the load schedule runs (without the wait for the last scrape)."""
    return scrape_interval * hold_intervals * steps


def restore_inputs(before: Mapping[str, Any], rate_names: Sequence[str]) -> dict[str, Any]:
    """The load call that puts back the rates (and the slow wave) the app ran before the probe."""
    out = {n: before[n] for n in (*rate_names, "wave") if before.get(n) not in (None, "")}
    return out


__all__ = [
    "MIN_HOLD",
    "RANGE_INTERVALS",
    "ProbeDataError",
    "Step",
    "check_probe_params",
    "duration",
    "instance_matcher",
    "kept_mask",
    "min_samples",
    "probe_spec",
    "restore_inputs",
    "restrict_promql",
    "rewrite_ranges",
    "step_of",
]
