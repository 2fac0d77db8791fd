"""A deadline for a whole HTTP request and a cap on the answer's size, for ``requests`` sessions.

``requests``' ``timeout`` bounds each socket read, not the request: a server that sends one byte
a second holds the caller forever. :class:`LimitedAdapter` bounds connect + send + the full body
by a deadline (a watchdog thread shuts the socket down when it passes, wherever the request is
blocked) and reads the body itself, refusing more than ``max_bytes`` (decoded) bytes.

Pure: no Airflow import. The settings (``deadline``/``max_response_bytes`` extras, ``[wecube]``
options) are resolved by :func:`airflow_wecube.config.http_limits`.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from airflow_wecube.config import DEFAULT_HTTP_DEADLINE as DEFAULT_DEADLINE
from airflow_wecube.config import DEFAULT_MAX_RESPONSE_BYTES as DEFAULT_MAX_BYTES

_CHUNK = 64 * 1024


class DeadlineExceeded(requests.exceptions.Timeout):
    """No complete answer (connect, send, whole body) within the deadline."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """The answer is larger than the cap; it was not read to its end."""


@dataclass(frozen=True)
class Limits:
    """Per-request limits, passed to a :class:`LimitedAdapter` as the ``timeout`` argument.

    :param timeout: seconds for connect and for each read (as ``requests``' own ``timeout``)
    :param deadline: seconds for the whole request; ``at`` (a ``time.monotonic()`` instant) wins
        when given, so retries and redirects can share one deadline
    :param max_bytes: largest answer body accepted (after decompression)
    """

    timeout: Any = None
    deadline: float | None = None
    at: float | None = None
    max_bytes: int | None = None


# -- the watchdog ---------------------------------------------------------------------------

_local = threading.local()


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a recv/send blocked in another thread
        except OSError:
            pass


class _Guard:
    """One request's deadline and the connection it is using."""

    __slots__ = ("at", "conn", "done", "expired", "lock")

    def __init__(self, at: float):
        self.at = at
        self.conn: Any = None
        self.done = False
        self.expired = False
        self.lock = threading.Lock()

    def attach(self, conn: Any) -> None:
        with self.lock:
            if self.done:
                return
            self.conn = conn
            if self.expired:
                _shutdown(conn)

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.expired = True
            if self.conn is not None:
                _shutdown(self.conn)

    def finish(self) -> None:
        with self.lock:
            self.done = True
            self.conn = None


class _Watchdog:
    """One daemon thread for the process; it expires guards whose deadline passed."""

    def __init__(self) -> None:
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)  # the thread does not survive a fork

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Guard]] = []
        self._seq = itertools.count()
        self._started = False

    def watch(self, guard: _Guard) -> None:
        with self._cond:
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, name="wecube-http-deadline", daemon=True).start()
            heapq.heappush(self._heap, (guard.at, next(self._seq), guard))
            if self._heap[0][2] is guard:
                self._cond.notify()

    def _run(self) -> None:
        cond = self._cond
        with cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    guard = heapq.heappop(self._heap)[2]
                    if not guard.done:
                        guard.expire()
                cond.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()


class _GuardedConnection:
    """Tells the current request's guard which connection (socket) it is using."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        guard = getattr(_local, "guard", None)
        if guard is not None:
            guard.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        guard = getattr(_local, "guard", None)
        if guard is not None:
            guard.attach(self)  # a kept-alive connection is connected already
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class LimitedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that bounds each request by a deadline and its answer by a size.

    The body is always read here, within the deadline (``stream=True`` gets it already read).

    :param deadline: default seconds for a whole request (a :class:`Limits` timeout overrides)
    :param max_bytes: default largest answer body
    """

    def __init__(self, *, deadline: float = DEFAULT_DEADLINE, max_bytes: int = DEFAULT_MAX_BYTES, **kwargs: Any):
        self.deadline = deadline
        self.max_bytes = max_bytes
        super().__init__(**kwargs)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: D102
        limits = timeout if isinstance(timeout, Limits) else Limits(timeout=timeout)
        deadline = limits.deadline or self.deadline
        at = limits.at if limits.at is not None else time.monotonic() + deadline
        max_bytes = limits.max_bytes or self.max_bytes
        remaining = at - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(self._late(request, deadline), request=request)
        guard = _Guard(at)
        _WATCHDOG.watch(guard)
        outer = getattr(_local, "guard", None)
        _local.guard = guard
        try:
            response = super().send(
                request,
                stream=True,
                timeout=_bounded(limits.timeout, remaining),
                verify=verify,
                cert=cert,
                proxies=proxies,
            )
            _read_body(response, max_bytes)
            if guard.expired:  # the socket was shut under a read: what came may be cut short
                raise DeadlineExceeded(self._late(request, deadline), request=request)
        except (ResponseTooLarge, DeadlineExceeded):
            raise
        except Exception as exc:
            if guard.expired or time.monotonic() >= at:
                raise DeadlineExceeded(self._late(request, deadline), request=request) from exc
            raise
        finally:
            guard.finish()
            _local.guard = outer
        return response

    @staticmethod
    def _late(request: requests.PreparedRequest, deadline: float) -> str:
        return (
            f"no complete answer from {request.method} {_plain_url(request.url)} within the {deadline:g} s deadline "
            "(connect, send and the whole body); raise connection extra 'deadline' or [wecube] http_deadline "
            "if the server is just slow"
        )


def _plain_url(url: str | None) -> str:
    """The URL for a message: no query string, no ``user:password@``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _bounded(timeout: Any, remaining: float) -> Any:
    """``requests``' (connect, read) timeout, each no longer than the time left."""
    if timeout is None:
        return (remaining, remaining)
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (min(connect or remaining, remaining), min(read or remaining, remaining))
    return (min(float(timeout), remaining), min(float(timeout), remaining))


def _read_body(response: requests.Response, max_bytes: int) -> None:
    """Read the whole body into ``response.content``, refusing more than ``max_bytes``."""
    url = _plain_url(response.request.url if response.request is not None else response.url)

    def too_large(what: str) -> ResponseTooLarge:
        response.close()
        return ResponseTooLarge(
            f"the answer from {url} {what}, more than the {max_bytes} bytes allowed; raise connection extra "
            "'max_response_bytes' or [wecube] http_max_response_bytes if it is expected",
            response=response,
        )

    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise too_large(f"announces {announced} bytes")
    chunks, total = [], 0
    for chunk in response.iter_content(_CHUNK):  # decoded: a small gzip of a huge body counts in full
        total += len(chunk)
        if total > max_bytes:
            raise too_large(f"goes on past {total} bytes")
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True
