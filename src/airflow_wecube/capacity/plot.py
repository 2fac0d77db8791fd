"""A PNG of a fit: actual vs predicted over time, and the residuals (matplotlib, Agg backend)."""

from __future__ import annotations

import io

import pandas as pd

MAX_POINTS = 5000


def _thin(series: pd.Series) -> pd.Series:
    step = max(1, len(series) // MAX_POINTS)
    return series.iloc[::step]


def render_png(
    actual: pd.Series, predicted: pd.Series, *, title: str, formula: str = "", resid_std: float | None = None
) -> bytes:
    """Render the fit's figure and return the PNG bytes (no file, no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # Figure directly: no pyplot global state

    fig = Figure(figsize=(11, 6.5), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    a, p = _thin(actual), _thin(predicted)
    resid = _thin(actual - predicted)
    times = a.index.tz_convert("UTC").tz_localize(None) if a.index.tz is not None else a.index
    ax1.plot(times, a.to_numpy(), ls="none", marker=".", ms=1.5, color="#1f77b4", alpha=0.6, label="actual")
    ax1.plot(times, p.to_numpy(), lw=0.6, color="#d62728", alpha=0.8, label="predicted")
    ax1.set_ylabel("target")
    ax1.legend(loc="upper right")
    ax1.set_title(title + (f"\n{formula}" if formula else ""), fontsize=10)
    ax2.plot(times, resid.to_numpy(), lw=0.5, color="#555555")
    ax2.axhline(0, color="black", lw=0.8)
    if resid_std:
        for k in (-3, 3):
            ax2.axhline(k * resid_std, color="#d62728", lw=0.6, ls="--", label="±3 residual std" if k > 0 else None)
        ax2.legend(loc="upper right")
    ax2.set_ylabel("residual")
    ax2.set_xlabel("time (UTC)")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


__all__ = ["render_png"]
