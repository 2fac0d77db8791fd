"""An app's instance count from the capacity model (``desired: capacity``): the seed's "models set
the strategy".

The capacity model predicts the app's target (e.g. CPU %) at the current business volume
(``capacity:<model>:predicted``, the recording rule the refit publishes), and the spec's ``limit``
is what one instance may carry. Spread over ``n`` instances each carries ``predicted / n``: the
count is the least ``n`` that keeps that under the limit, within the strategy's floor and ceiling.
"""

from __future__ import annotations

import math


def capacity_count(
    predicted: float | None, limit: float | None, floor: int, ceiling: int, recorded: int
) -> tuple[int, str]:
    """``(count, why)``; without a prediction or a limit, the recorded count (within floor and ceiling)."""
    if predicted is None or limit is None or not math.isfinite(predicted) or limit <= 0:
        count = min(max(recorded, floor), ceiling)
        what = "no prediction" if predicted is None or not math.isfinite(predicted) else "no limit"
        return (
            count,
            f"{what} from the capacity model: {count} instance(s), as recorded ({recorded}) within {floor}-{ceiling}",
        )
    need = max(1, math.floor(max(predicted, 0.0) / limit) + 1)
    count = min(max(need, floor), ceiling)
    why = f"predicted {predicted:.3g} at the current volume, limit {limit:g} per instance: {need} needed"
    if count != need:
        why += f", kept within {floor}-{ceiling}: {count}"
    return count, why


__all__ = ["capacity_count"]
