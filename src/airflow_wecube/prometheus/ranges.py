"""Long range queries: split into chunks of at most 11,000 points per series, fetched a few at a time."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_DONE = object()

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


def fetch_in_order(tasks: Sequence[T], fetch: Callable[[T], R], consume: Callable[[T, R], None], workers: int) -> None:
    """``consume(task, fetch(task))`` for every task, in order, with up to ``workers`` fetches in flight.

    The fetches run on worker threads (they mostly wait on the socket and gunzip, which frees the
    GIL); this thread consumes each result in task order as it arrives, so decoding does not fight
    the fetches for the GIL and at most a few results are held at a time. A failed fetch stops the
    rest and is raised.
    """
    workers = max(1, min(int(workers), len(tasks)))
    if workers == 1:
        for task in tasks:
            consume(task, fetch(task))
        return
    pending: deque = deque()
    todo = iter(tasks)
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def submit_next() -> None:
            task = next(todo, _DONE)
            if task is not _DONE:
                pending.append((task, pool.submit(fetch, task)))

        try:
            for _ in range(workers):
                submit_next()
            while pending:
                task, future = pending.popleft()
                result = future.result()
                submit_next()  # keep ``workers`` fetches in flight while this one is consumed
                consume(task, result)
        finally:
            for _, future in pending:  # a failed fetch stops the rest
                future.cancel()
