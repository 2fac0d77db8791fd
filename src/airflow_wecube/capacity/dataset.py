"""Turn the frame fetched from Prometheus into a dataset a regression can use.

The frame is what :meth:`PrometheusHook.query_range_frame` returns for :meth:`CapacitySpec.queries`:
a UTC ``DatetimeIndex`` and one column per query (``__target__`` and each feature).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from airflow_wecube.capacity.errors import DatasetError
from airflow_wecube.capacity.spec import TARGET, CapacitySpec


@dataclass
class Dataset:
    """Aligned, gap-free samples: ``X`` (features, spec order) and ``y`` (target) on one index."""

    X: pd.DataFrame
    y: pd.Series
    rows_in: int
    rows_dropped: int
    notes: list[str] = field(default_factory=list)

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

    :raises DatasetError: a column is missing, the index is not time, a feature is constant
        (it cannot be told apart from the intercept) or too few rows remain to fit at all
    """
    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    wanted = [TARGET, *spec.features]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DatasetError(f"model {spec.name}: the fetched frame lacks column(s) {missing} (have {list(frame.columns)})")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DatasetError(f"model {spec.name}: the frame index must be a DatetimeIndex, got {type(frame.index).__name__}")

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

    n_params = len(spec.features) + 1
    if len(data) <= n_params:
        raise DatasetError(
            f"model {spec.name}: only {len(data)} aligned sample(s) without gaps; "
            f"a fit of {n_params} parameters needs more than {n_params} (and the gate asks for {spec.gates.min_samples})"
        )
    for name in spec.features:
        col = data[name].to_numpy()
        spread = float(col.max() - col.min())
        if spread <= 1e-12 * max(1.0, float(np.abs(col).max())):
            raise DatasetError(
                f"model {spec.name}: feature {name!r} is constant ({col[0]:g}) over the window, "
                "so its cost cannot be told apart from the intercept; widen the window or drop the feature"
            )
    if float(data[TARGET].max() - data[TARGET].min()) == 0.0:
        notes.append("the target is constant over the window")
    return Dataset(X=data[list(spec.features)], y=data[TARGET], rows_in=rows_in, rows_dropped=dropped, notes=notes)
