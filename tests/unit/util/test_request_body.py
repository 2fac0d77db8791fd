"""A request body read no further than its limit: Starlette's own Request fed ASGI messages chunk by chunk."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from airflow_wecube.util.request_body import BodyTooLarge, read_body


def request(chunks: list[bytes], headers: dict[str, str] | None = None) -> tuple[Request, list[int]]:
    """A request whose body arrives in ``chunks``; the list counts the chunks handed out."""
    handed = [0]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        handed[0] += 1
        return messages[handed[0] - 1]

    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "headers": raw}, receive), handed


def test_a_body_within_the_limit_is_read_whole():
    req, _ = request([b"ab", b"cd", b""])
    assert asyncio.run(read_body(req, 4)) == b"abcd"


def test_a_chunked_body_stops_being_read_past_the_limit():
    req, handed = request([b"x" * 10] * 100)
    with pytest.raises(BodyTooLarge, match="goes on, more than the 25 bytes allowed"):
        asyncio.run(read_body(req, 25))
    assert handed[0] == 3  # 30 bytes read of 1000


def test_a_length_over_the_limit_is_refused_before_reading():
    req, handed = request([b"x"], {"Content-Length": "1000"})
    with pytest.raises(BodyTooLarge, match="is 1000 bytes") as e:
        asyncio.run(read_body(req, 25))
    assert e.value.announced == 1000 and handed[0] == 0
