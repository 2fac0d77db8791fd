"""Synthetic business volume and CPU following the seed model ``cpu% = 0.145*opened + 0.267*closed + 0.005``."""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE = {"accounts_opened": 0.145, "accounts_closed": 0.267}
TRUE_INTERCEPT = 0.005
NOISE = 0.5


def volumes(n: int, step_s: float, rng: np.random.Generator, t0: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Opened/closed per second: daily cycles with different phases plus noise (not collinear)."""
    t = t0 + np.arange(n) * step_s
    day = 2 * np.pi * t / 86400
    opened = 100 + 60 * np.sin(day) + 15 * np.sin(7 * day / 3) + rng.normal(0, 10, n)
    closed = 50 + 30 * np.cos(day * 1.7 + 1) + rng.normal(0, 8, n)
    return np.clip(opened, 0, None), np.clip(closed, 0, None)


def make_frame(
    n: int = 10080,
    *,
    step_s: float = 60.0,
    closed_coef: float = 0.267,
    seed: int = 0,
    start: str = "2025-01-01",
    noise: float = NOISE,
    extra: dict | None = None,
) -> pd.DataFrame:
    """A frame as PrometheusHook.query_range_frame returns it for the seed spec."""
    rng = np.random.default_rng(seed)
    opened, closed = volumes(n, step_s, rng)
    cpu = TRUE["accounts_opened"] * opened + closed_coef * closed + TRUE_INTERCEPT + rng.normal(0, noise, n)
    index = pd.date_range(start, periods=n, freq=pd.Timedelta(seconds=step_s), tz="UTC", name="timestamp")
    data = {"__target__": cpu, "accounts_opened": opened, "accounts_closed": closed, **(extra or {})}
    return pd.DataFrame(data, index=index)


SPEC = {
    "name": "ledger_cpu",
    "target_label": "cpu%",
    "target": "cpu_percent",
    "features": {"accounts_opened": "accounts_opened", "accounts_closed": "accounts_closed"},
    "window": "7d",
    "step": "60s",
    "limit": 80,
}


RATE_SPEC = {
    **SPEC,
    "target": "sum(rate(app_cpu_seconds_total[1m])) * 100",
    "features": {
        "accounts_opened": "sum(rate(accounts_opened_total[1m]))",
        "accounts_closed": "sum(rate(accounts_closed_total[1m]))",
    },
    "step": "15s",
}


def make_rate_frame(
    n: int,
    *,
    seed: int,
    closed_coef: float = 0.267,
    phi: float = 0.5,
    noise: float = NOISE,
    step_s: float = 15.0,
    window_steps: int = 4,
    t0: float = 0.0,
) -> pd.DataFrame:
    """What ``rate(...[1m])`` sampled every 15 s gives for the seed model: autocorrelated residuals.

    Per scrape interval the CPU has noise that lingers (AR(1) with ``phi``: a GC pause or a burst
    spans several scrapes); Prometheus's rate over ``window_steps`` intervals then averages each
    series over a moving window, so neighbouring samples share most of their data (MA of order
    ``window_steps - 1`` on top). The true coefficients are exactly those of :data:`TRUE`.
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    m = n + window_steps - 1
    opened, closed = volumes(m, step_s, rng, t0=t0)
    shocks = rng.normal(0, noise * np.sqrt(1 - phi**2), m)
    shocks[0] = rng.normal(0, noise)
    errors = lfilter([1.0], [1.0, -phi], shocks)
    cpu = TRUE["accounts_opened"] * opened + closed_coef * closed + TRUE_INTERCEPT + errors
    box = np.ones(window_steps) / window_steps

    def rate(v: np.ndarray) -> np.ndarray:
        return np.convolve(v, box, mode="valid")

    index = pd.date_range(
        pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(seconds=t0),
        periods=n,
        freq=pd.Timedelta(seconds=step_s),
        name="timestamp",
    )
    return pd.DataFrame(
        {"__target__": rate(cpu), "accounts_opened": rate(opened), "accounts_closed": rate(closed)}, index=index
    )
