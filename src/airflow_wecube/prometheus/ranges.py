"""Splitting long range queries: Prometheus returns at most 11,000 points per series."""

from __future__ import annotations

MAX_POINTS = 11_000


def split_range(start_ms: int, end_ms: int, step_ms: int, max_points: int = MAX_POINTS) -> list[tuple[int, int]]:
    """Chunks ``[(start, end), ...]`` (milliseconds, inclusive) covering the evaluation grid.

    Prometheus evaluates a range query at ``start, start+step, ... <= end``. Each chunk holds at
    most ``max_points`` of those instants, chunk ``i+1`` starts one step after chunk ``i`` ends,
    and every chunk boundary lies on the grid, so stitching the chunks gives every instant
    exactly once. An ``end`` off the grid is lowered to the last instant on it.
    """
    if step_ms <= 0:
        raise ValueError("step must be positive")
    if end_ms < start_ms:
        raise ValueError("end must not be before start")
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    last = start_ms + (end_ms - start_ms) // step_ms * step_ms
    span = (max_points - 1) * step_ms
    chunks = []
    chunk_start = start_ms
    while chunk_start <= last:
        chunk_end = min(chunk_start + span, last)
        chunks.append((chunk_start, chunk_end))
        chunk_start = chunk_end + step_ms
    return chunks
