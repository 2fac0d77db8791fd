"""A request body read no further than a limit: the receivers' guard against a body of any size.

A ``Content-Length`` over the limit is refused before a byte is read; a chunked body (no length) is
read chunk by chunk and refused as soon as it passes the limit, so the server never holds more than
the limit (plus one chunk) whatever the sender streams. The caller answers at once (413 or 400); the
rest of the body is never read.
"""

from __future__ import annotations

from typing import Any


class BodyTooLarge(Exception):
    """The body is larger than the limit; ``announced`` is its ``Content-Length`` when it gave one."""

    def __init__(self, limit: int, announced: int | None = None):
        self.limit = limit
        self.announced = announced
        said = f"is {announced} bytes" if announced is not None else "goes on"
        super().__init__(f"the body {said}, more than the {limit} bytes allowed")


async def read_body(request: Any, limit: int) -> bytes:
    """The body of a Starlette ``request``, at most ``limit`` bytes; :class:`BodyTooLarge` past it."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise BodyTooLarge(limit, int(announced))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)
