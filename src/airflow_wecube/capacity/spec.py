"""The capacity model spec: what to regress on what, over which window, and when to trust it.

A spec is a small YAML file (one per model) in a ``capacity/`` folder beside the DAGs::

    name: ledger_cpu
    description: CPU of the ledger service per business transaction
    target_label: cpu%  # left-hand side of the formula text (default: the name)
    owners: [ledger-team@example.com]
    target: sum(rate(app_cpu_seconds_total[1m])) * 100     # PromQL, must return one series
    features:                                             # name -> PromQL, one series each
      opened: sum(rate(accounts_opened_total[1m]))
      closed: sum(rate(accounts_closed_total[1m]))
    candidates:         # optional: not in the model, tested for it (would adding one explain more?)
      transferred: sum(rate(accounts_transferred_total[1m]))
    window: 7d          # range fitted when no explicit start/end is given
    step: 60s           # query resolution
    robust: none        # none | huber | ransac: drop outliers before the OLS fit
    cov_type: HAC       # HAC (Newey-West, default) | nonrobust: standard errors for inference and drift
    hac_lags: auto      # auto | an integer >= 0: lags of the Newey-West (Bartlett) window
    gates: {min_samples: 500, min_r2: 0.7, max_p_value: 0.01}
    drift: {max_relative_change: 0.2, require_ci_overlap: true, chow_alpha: 0.001, max_r2_drop: 0.1}
    limit: 80           # optional: headroom is the business volume left until the target reaches it
    alert: {k: 3, for: 10m}   # alert when actual > predicted + k residual std devs

Only ``name``, ``target`` and ``features`` are required.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airflow_wecube.capacity.errors import SpecError
from airflow_wecube.util.durations import format_duration, parse_duration
from airflow_wecube.util.durations import parse_time as _parse_time

_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# a PromQL range selector or subquery range: [1m], [5m:30s], [1h30m:]
_RANGE = re.compile(r"\[\s*((?:\d+(?:ms|s|m|h|d|w|y))+)\s*(?::\s*(?:(?:\d+(?:ms|s|m|h|d|w|y))+)?\s*)?\]")
# PromQL string literals ("...", '...', `...`): a [..] inside one (a regex) is not a range
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# a metric named like a counter (OpenMetrics suffixes), its label matcher, and a range selector if any
_COUNTER = re.compile(r"(?<![A-Za-z0-9_:])([a-zA-Z_:][a-zA-Z0-9_:]*(?:_total|_count|_sum|_bucket))\s*(\{\})?\s*(\[)?")
_MATCHERS = re.compile(r"\{[^{}]*\}")
# most points one series of a fit may ask Prometheus for (window / step + 1): see docs/capacity.md, "Limits"
MAX_POINTS = 1_000_000


class _Strict(BaseModel):
    # NaN and infinity (YAML .nan, .inf) are never a meaningful threshold or limit
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Gates(_Strict):
    """Acceptance gates: a fit becomes the baseline only when it passes all of them.

    :param min_samples: fewest aligned samples worth fitting
    :param min_r2: lowest R² (below it the features do not explain the target)
    :param max_p_value: highest p-value any feature coefficient may have (intercept excluded)
    :param max_vif: when set, a VIF above it fails the gate instead of only warning
    """

    min_samples: int = Field(500, ge=1)
    min_r2: float = Field(0.7, ge=0, le=1)
    max_p_value: float = Field(0.01, gt=0, le=1)
    max_vif: float | None = Field(None, gt=1)


class DriftThresholds(_Strict):
    """When a new fit counts as drifted from the accepted baseline.

    :param max_relative_change: a coefficient moved when ``|new - old| / |old|`` exceeds this
    :param require_ci_overlap: a coefficient moved when its 95% interval no longer overlaps the baseline's
    :param chow_alpha: the Chow test across both windows flags drift below this p-value
        (``null``: report the test only)
    :param max_r2_drop: an R² lower than the baseline's by more than this flags drift (a missing factor)
    """

    max_relative_change: float = Field(0.2, gt=0)
    require_ci_overlap: bool = True
    chow_alpha: float | None = Field(0.001, gt=0, lt=1)
    max_r2_drop: float = Field(0.1, ge=0, le=1)


class AlertSpec(_Strict):
    """The efficiency-regression alert published beside the recording rule.

    :param k: alert when actual exceeds the prediction by ``k`` residual standard deviations
    :param for_: how long the excess must last (YAML key ``for``)
    :param severity: label put on the alert
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    k: float = Field(3.0, gt=0)
    for_: str = Field("10m", alias="for")
    severity: str = "warning"
    enabled: bool = True

    @field_validator("for_")
    @classmethod
    def _for(cls, v: str) -> str:
        parse_duration(v)
        return v


class CapacitySpec(_Strict):
    """One capacity model: regress ``target`` on ``features`` (all PromQL)."""

    name: str
    description: str = ""
    target_label: str | None = None
    owners: list[str] = Field(default_factory=list)
    target: str
    features: dict[str, str]
    candidates: dict[str, str] = Field(default_factory=dict)
    window: str = "7d"
    step: str = "60s"
    robust: Literal["none", "huber", "ransac"] = "none"
    cov_type: Literal["HAC", "nonrobust"] = "HAC"
    hac_lags: Literal["auto"] | int = "auto"
    gates: Gates = Field(default_factory=Gates)
    drift: DriftThresholds = Field(default_factory=DriftThresholds)
    limit: float | None = None
    headroom_lookback: str = "1h"
    alert: AlertSpec = Field(default_factory=AlertSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError(
                f"model name {v!r} must match [a-zA-Z_][a-zA-Z0-9_]* (it becomes part of a Prometheus rule name)"
            )
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if not v or not v.strip():
            raise ValueError("target PromQL is empty")
        return v.strip()

    @field_validator("features")
    @classmethod
    def _features(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("at least one feature is needed")
        return _named_queries(v, "feature")

    @field_validator("candidates", mode="before")
    @classmethod
    def _candidates(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, dict):
            for key, query in v.items():
                if not isinstance(query, str):  # before pydantic's own "Input should be a valid string"
                    raise ValueError(f"candidate {key!r} must be a PromQL string, got {type(query).__name__}")
            return _named_queries(v, "candidate")
        return v

    @model_validator(mode="after")
    def _candidates_apart(self) -> CapacitySpec:
        both = sorted(set(self.candidates) & set(self.features))
        if both:
            raise ValueError(
                f"candidate(s) {', '.join(both)} are already features: a candidate is a factor not in the model "
                "(remove it from candidates, or from features)"
            )
        return self

    @field_validator("cov_type", mode="before")
    @classmethod
    def _cov_type(cls, v: Any) -> Any:
        if isinstance(v, str):
            low = v.strip().lower()
            return {"hac": "HAC", "newey-west": "HAC", "nonrobust": "nonrobust", "iid": "nonrobust"}.get(low, v)
        return v

    @field_validator("hac_lags", mode="before")
    @classmethod
    def _hac_lags(cls, v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            raise ValueError("hac_lags must be 'auto' or an integer >= 0")
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v.strip())
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, int) and v < 0:
            raise ValueError(f"hac_lags must be 'auto' or an integer >= 0, got {v}")
        return v

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ValueError(
                f"limit must be a finite number > 0 (the target's ceiling, e.g. 80 for 80% CPU) or null, got {v!r}"
            )
        return v

    @field_validator("window", "step", "headroom_lookback")
    @classmethod
    def _durations(cls, v: Any) -> str:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = f"{v}s"
        parse_duration(v)
        return str(v)

    @model_validator(mode="after")
    def _window_vs_step(self) -> CapacitySpec:
        if parse_duration(self.step) >= parse_duration(self.window):
            raise ValueError(f"step {self.step} must be shorter than window {self.window}")
        check_points(self.window_td, self.step_td, what=f"window {self.window} at step {self.step}")
        return self

    @property
    def window_td(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def step_td(self) -> timedelta:
        return parse_duration(self.step)

    def queries(self) -> dict[str, str]:
        """Every PromQL by column name: the target under ``__target__`` then the features."""
        return {TARGET: self.target, **self.features}

    def candidate_queries(self) -> dict[str, str]:
        """:meth:`queries` and the candidates: what a fit that tests the candidates fetches."""
        return {**self.queries(), **self.candidates}

    def largest_range(self) -> timedelta | None:
        """The longest range-vector window (``[1m]``, or a subquery's ``[30m:1m]``) in any of the PromQL."""
        ranges = [r for q in self.candidate_queries().values() for r in promql_ranges(q)]
        return max(ranges) if ranges else None

    def hac_lags_for(self, n: int) -> dict[str, Any]:
        """The Newey-West lag window for a fit of ``n`` consecutive samples, and how it was chosen.

        A rate over a ``[1m]`` window sampled every 15 s shares 45 s of data with its neighbours, so
        the residuals are correlated over ``ceil(range / step)`` samples at least (``range_lags``).
        Business load itself moves in bursts longer than that, so ``auto`` never goes below the
        Newey-West rule of thumb ``floor(4 (n/100)^(2/9))`` (``rule_of_thumb``). An integer
        ``hac_lags`` in the spec overrides both. The result is capped at ``n - 1``.
        """
        rng = self.largest_range()
        range_lags = math.ceil(rng / self.step_td - 1e-9) if rng is not None else 0
        rule = newey_west_rule(n)
        if self.hac_lags == "auto":
            lags, source = max(range_lags, rule), ("range" if range_lags > rule else "rule_of_thumb")
        else:
            lags, source = int(self.hac_lags), "spec"
        return {
            "maxlags": max(0, min(lags, n - 1)),
            "source": source,
            "largest_range": format_duration(rng) if rng is not None else None,
            "range_lags": range_lags,
            "rule_of_thumb": rule,
        }


TARGET = "__target__"


def _named_queries(v: dict[str, str], what: str) -> dict[str, str]:
    """Names that can be columns (``intercept`` reserved), each with a non-empty PromQL; stripped."""
    for key, query in v.items():
        if not _NAME.fullmatch(key):
            raise ValueError(f"{what} name {key!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
        if key == "intercept":
            raise ValueError("'intercept' is reserved")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"{what} {key!r} has an empty PromQL")
    return {k: q.strip() for k, q in v.items()}


def check_points(span: timedelta, step: timedelta, *, what: str) -> int:
    """The samples per series a range of ``span`` at ``step`` asks for; refuses more than :data:`MAX_POINTS`."""
    points = int(span / step) + 1
    if points > MAX_POINTS:
        raise ValueError(
            f"{what} asks for {points:,} points per series, more than the {MAX_POINTS:,} a fit may fetch; "
            "use a longer step or a shorter window"
        )
    return points


def counter_hint(query: str) -> str | None:
    """A hint when ``query`` reads a counter (``*_total``, ``*_count``, ``*_sum``, ``*_bucket``) without a range.

    A counter only grows, so regressing its raw value on volumes per second models nothing; its
    rate is what costs. ``None`` when every counter in the query sits in a range selector (``rate(x[5m])``).
    """
    text = _MATCHERS.sub("{}", _STRING.sub('""', query))
    for m in _COUNTER.finditer(text):
        rest = text[m.end() :].lstrip()
        if m.group(3) is None and not rest.startswith("("):  # no range selector, and not a function call
            name = m.group(1)
            return f"{name} is a counter (it only grows): did you mean rate({name}[5m])?"
    return None


def promql_ranges(query: str) -> list[timedelta]:
    """Range windows of the range selectors and subqueries in a PromQL expression (string literals skipped)."""
    text = _STRING.sub('""', query)
    return [parse_duration(m.group(1)) for m in _RANGE.finditer(text)]


def newey_west_rule(n: int) -> int:
    """Newey and West's (1994) rule-of-thumb lag window ``floor(4 (n/100)^(2/9))`` (statsmodels' default)."""
    return int(math.floor(4 * (max(n, 1) / 100.0) ** (2.0 / 9.0)))


def load_spec(source: str | Path | dict) -> CapacitySpec:
    """Load and validate a spec from a YAML file path, YAML text, or a dict.

    :raises SpecError: naming the file and every problem found
    """
    where = "<spec>"
    data: Any = source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yml", ".yaml"))
    ):
        path = Path(source)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise SpecError(f"{where}: cannot read spec: {e.strerror or e}") from e
        data = text
    if isinstance(data, str):
        try:
            _refuse_duplicate_keys(yaml.compose(data, Loader=yaml.SafeLoader), where)
            data = yaml.safe_load(data)
        except yaml.YAMLError as e:
            hint = ""
            if "flow" in str(e):
                hint = (
                    " (hint: PromQL holding [ ] { } or , inside a {...} mapping must be quoted, "
                    "or write one 'name: query' per line)"
                )
            raise SpecError(f"{where}: not valid YAML: {e}{hint}") from e
    if not isinstance(data, dict):
        raise SpecError(f"{where}: a spec must be a YAML mapping, got {type(data).__name__}")
    try:
        return CapacitySpec.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in e.errors())
        raise SpecError(f"{where}: invalid capacity spec: {problems}") from None


def _refuse_duplicate_keys(node: yaml.Node | None, where: str, path: str = "") -> None:
    """YAML keeps the last of two equal keys without a word; a spec refuses them, naming the key and lines."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                name = f"{path}.{key.value}" if path else key.value
                if key.value in seen:
                    raise SpecError(
                        f"{where}: duplicate key {name!r} (line {seen[key.value].start_mark.line + 1} and line "
                        f"{key.start_mark.line + 1}); YAML would silently keep the last one: remove one of them"
                    )
                seen[key.value] = key
                _refuse_duplicate_keys(value, where, name)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, where, f"{path}[{i}]")


def parse_time(value: str | int | float | datetime) -> datetime:
    """A point in time for a fit window: :func:`airflow_wecube.util.durations.parse_time` (ISO 8601, Unix seconds).

    :raises SpecError: when the value is not a time
    """
    try:
        return _parse_time(value)
    except ValueError as e:
        raise SpecError(str(e)) from None


def resolve_window(
    spec: CapacitySpec, start=None, end=None, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The fit window: explicit ``start``/``end`` win; a missing end is now, a missing start is end - window.

    :raises SpecError: when start is not before end
    """
    end_dt = parse_time(end) if end not in (None, "") else (now or datetime.now(timezone.utc))
    try:
        start_dt = parse_time(start) if start not in (None, "") else end_dt - spec.window_td
    except OverflowError:
        raise SpecError(f"window {spec.window} before {end_dt.isoformat()} reaches before the year 1") from None
    if start_dt >= end_dt:
        raise SpecError(f"start {start_dt.isoformat()} is not before end {end_dt.isoformat()}")
    try:
        check_points(
            end_dt - start_dt,
            spec.step_td,
            what=f"the window {start_dt.isoformat()} .. {end_dt.isoformat()} at step {spec.step}",
        )
    except ValueError as e:
        raise SpecError(str(e)) from None
    return start_dt, end_dt
