"""Turn the frame fetched from Prometheus into a dataset a regression can use.

The frame is what :meth:`PrometheusHook.query_range_frame` returns for :meth:`CapacitySpec.queries`:
a UTC ``DatetimeIndex`` and one column per query (``__target__`` and each feature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from airflow_wecube.capacity.errors import DatasetError
from airflow_wecube.capacity.spec import TARGET, CapacitySpec

# largest magnitude (and inverse of the smallest) a series may reach: squares and sums of n ≤ 1e6
# squares must stay finite and normal in float64
MAX_ABS = 1e100


@dataclass
class Dataset:
    """Aligned, gap-free samples: ``X`` (features, spec order) and ``y`` (target) on one index."""

    X: pd.DataFrame
    y: pd.Series
    rows_in: int
    rows_dropped: int
    notes: list[str] = field(default_factory=list)
    target_constant: bool = False  # no variance: nothing to explain, the gate says so

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def features(self) -> list[str]:
        return list(self.X.columns)

    @property
    def start(self) -> pd.Timestamp | None:
        return self.y.index[0] if self.n else None

    @property
    def end(self) -> pd.Timestamp | None:
        return self.y.index[-1] if self.n else None


def build_dataset(frame: pd.DataFrame, spec: CapacitySpec) -> Dataset:
    """Align the target and features, drop gaps, and refuse data that cannot be fitted.

    Rows where any series is missing or not finite (a scrape gap, a restart, a division by zero
    in PromQL) are dropped rather than filled: interpolating a rate would invent load.

    :raises DatasetError: a column is missing, the index is not time, a series is too large or
        small for float64 sums of squares (:data:`MAX_ABS`), a feature is constant (it cannot be
        told apart from the intercept) or too few rows remain to fit at all
    """
    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    wanted = [TARGET, *spec.features]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"model {spec.name}: the fetched frame lacks column(s) {missing} (have {list(frame.columns)})"
        )
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DatasetError(
            f"model {spec.name}: the frame index must be a DatetimeIndex, got {type(frame.index).__name__}"
        )

    data = frame[wanted].apply(pd.to_numeric, errors="coerce").astype("float64")
    index = data.index if data.index.tz is not None else data.index.tz_localize("UTC")
    data.index = index.tz_convert("UTC")
    data = data[~data.index.duplicated(keep="last")].sort_index()
    rows_in = len(data)
    finite = np.isfinite(data.to_numpy()).all(axis=1)
    data = data[finite]
    notes: list[str] = []
    dropped = rows_in - len(data)
    if dropped:
        notes.append(f"dropped {dropped} of {rows_in} rows with a gap or a non-finite value")

    for name in wanted:
        peak = float(np.abs(data[name].to_numpy()).max()) if len(data) else 0.0
        if peak > MAX_ABS or 0 < peak < 1 / MAX_ABS:
            what = "the target" if name == TARGET else f"feature {name!r}"
            query = spec.target if name == TARGET else spec.features[name]
            raise DatasetError(
                f"model {spec.name}: {what} reaches {peak:.3g} in magnitude, outside the 1e-100 .. 1e100 a fit "
                f"handles (its sums of squares would overflow or vanish in float64); scale it in its PromQL, "
                f"e.g. ({query}) {'/' if peak > 1 else '*'} 1e{abs(round(math.log10(peak)))}"
            )

    n_params = len(spec.features) + 1
    if len(data) <= n_params:
        raise DatasetError(
            f"model {spec.name}: only {len(data)} aligned sample(s) without gaps; "
            f"a fit of {n_params} parameters needs more than {n_params} "
            f"(and the gate asks for {spec.gates.min_samples})"
        )
    for name in spec.features:
        col = data[name].to_numpy()
        if _constant(col):
            raise DatasetError(
                f"model {spec.name}: feature {name!r} is constant ({col[0]:g}) over the window, "
                "so its cost cannot be told apart from the intercept; widen the window or drop the feature"
            )
    target_constant = _constant(data[TARGET].to_numpy())
    if target_constant:
        notes.append(
            f"the target is constant ({float(data[TARGET].iloc[0]):g}) over the window: there is nothing to explain"
        )
    return Dataset(
        X=data[list(spec.features)],
        y=data[TARGET],
        rows_in=rows_in,
        rows_dropped=dropped,
        notes=notes,
        target_constant=target_constant,
    )


def _constant(col: np.ndarray) -> bool:
    """No spread beyond rounding, relative to the values' own size (1e-15 apart is not constant for values of 1e-13)."""
    spread = float(col.max() - col.min())
    return spread == 0.0 or spread <= 1e-12 * float(np.abs(col).max())
