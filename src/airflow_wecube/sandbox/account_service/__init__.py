"""The demo "account service" that ``deploy/app/deploy`` runs on a sandbox host.

A small HTTP server (:mod:`http.server`) that generates its own business load and exposes it to
Prometheus:

``GET /health``   200 ``{"status": "ok", "version", "pid"}``; 500 when the service is broken
                  (``--broken``, or a version string containing ``broken``)
``GET /metrics``  ``accounts_opened_total``, ``accounts_closed_total``, ``account_errors_total``,
                  ``accounts_open``, ``account_load_rate``, ``account_service_info{version}`` and the
                  process collector's ``process_cpu_seconds_total`` (Linux)
``GET /``         a JSON summary
``POST /load?rate=N``  change the load rate (opens per second) while running

The load: ``rate`` accounts opened per second and about 0.6 of that closed, each operation
burning a calibrated amount of CPU (1 ms per open, 2 ms per close by default, measured on the
thread's CPU clock), so that CPU use follows business volume and closing costs more. The default
rate (5/s) costs about 1 % of a core.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["CLOSE_RATIO", "AccountService", "burn", "make_server"]

#: closes per open in the generated load
CLOSE_RATIO = 0.6
#: the load generator's tick (seconds)
TICK = 0.05
#: the highest rate accepted (opens per second): beyond it the busy loops would eat whole cores
MAX_RATE = 500.0


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time (not wall time) in a busy loop."""
    if seconds <= 0:
        return
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class AccountService:
    """The service's state, metrics and load generator (no HTTP here; see :func:`make_server`).

    :param version: the version it reports (``broken`` in it makes the service unhealthy)
    :param rate: accounts opened per second by the load generator (0 = no load)
    :param broken: force an unhealthy service whatever the version
    :param error_rate: fraction of operations that fail (counted in ``account_errors_total``)
    :param open_cost: CPU seconds spent per open
    :param close_cost: CPU seconds spent per close
    :param registry: the Prometheus registry (a new one by default, with process and platform collectors)
    """

    def __init__(
        self,
        version: str,
        *,
        rate: float = 5.0,
        broken: bool = False,
        error_rate: float = 0.0,
        open_cost: float = 0.001,
        close_cost: float = 0.002,
        registry: CollectorRegistry | None = None,
    ):
        if not version.strip():
            raise ValueError("version must not be blank")
        if not 0 <= error_rate <= 1:
            raise ValueError(f"error_rate must be between 0 and 1, got {error_rate}")
        if open_cost < 0 or close_cost < 0:
            raise ValueError("CPU costs must not be negative")
        self.version = version
        self.broken = broken or "broken" in version.lower()
        self.error_rate = error_rate
        self.open_cost = open_cost
        self.close_cost = close_cost
        self._lock = threading.Lock()
        self._open = 0
        self._random = random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self.registry = registry
        self.opened = Counter("accounts_opened", "Accounts opened", registry=registry)
        self.closed = Counter("accounts_closed", "Accounts closed", registry=registry)
        self.errors = Counter("account_errors", "Account operations that failed", registry=registry)
        self.open_gauge = Gauge("accounts_open", "Accounts currently open", registry=registry)
        self.rate_gauge = Gauge("account_load_rate", "Generated load: accounts opened per second", registry=registry)
        Info("account_service", "The running build", registry=registry).info({"version": version})
        self.rate = 0.0
        self.set_rate(rate)

    # -- business --------------------------------------------------------------------------

    def set_rate(self, rate: float) -> None:
        rate = float(rate)
        if not 0 <= rate <= MAX_RATE:
            raise ValueError(f"rate must be between 0 and {MAX_RATE:g} opens per second, got {rate:g}")
        self.rate = rate
        self.rate_gauge.set(rate)

    @property
    def open_accounts(self) -> int:
        return self._open

    def _fails(self) -> bool:
        return self.error_rate > 0 and self._random.random() < self.error_rate

    def open_account(self) -> bool:
        """Open one account (spends ``open_cost`` of CPU); ``False`` when it failed."""
        burn(self.open_cost)
        if self._fails():
            self.errors.inc()
            return False
        with self._lock:
            self._open += 1
            self.open_gauge.set(self._open)
        self.opened.inc()
        return True

    def close_account(self) -> bool:
        """Close one account (spends ``close_cost`` of CPU); fails when none is open."""
        burn(self.close_cost)
        with self._lock:
            if self._open == 0 or self._fails():
                failed = True
            else:
                failed = False
                self._open -= 1
                self.open_gauge.set(self._open)
        if failed:
            self.errors.inc()
            return False
        self.closed.inc()
        return True

    def health(self) -> tuple[int, dict]:
        body = {"status": "ok", "version": self.version, "pid": os.getpid()}
        if self.broken:
            return 500, {**body, "status": "failing", "reason": f"version {self.version} is broken"}
        return 200, body

    # -- load generator --------------------------------------------------------------------

    def run_load(self, stop: threading.Event | None = None) -> None:
        """Generate load until ``stop`` (or :meth:`stop`) is set: opens at ``rate``, closes at 0.6 of it."""
        stop = stop or self._stop
        opens_due = closes_due = 0.0
        last = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            elapsed, last = now - last, now
            opens_due += self.rate * elapsed
            closes_due += self.rate * CLOSE_RATIO * elapsed
            while opens_due >= 1 and not stop.is_set():
                opens_due -= 1
                self.open_account()
            while closes_due >= 1 and not stop.is_set():
                closes_due -= 1
                self.close_account()
            stop.wait(max(0.0, TICK - (time.monotonic() - now)))

    def start(self) -> None:
        """Run the load generator in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_load, name="account-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # no access log: Prometheus scrapes every few seconds

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        service = self.server.service
        path = urlsplit(self.path).path
        if path == "/health":
            self._json(*service.health())
        elif path == "/metrics":
            self._send(200, generate_latest(service.registry), CONTENT_TYPE_LATEST)
        elif path == "/":
            self._json(
                200,
                {
                    "service": "account-service",
                    "version": service.version,
                    "rate": service.rate,
                    "open_accounts": service.open_accounts,
                    "pid": os.getpid(),
                },
            )
        else:
            self._json(404, {"error": f"no such path: {path}"})

    def do_POST(self) -> None:  # noqa: N802
        service = self.server.service
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if url.path != "/load":
            self._json(404, {"error": f"no such path: {url.path}"})
            return
        values = parse_qs(url.query).get("rate")
        try:
            if not values:
                raise ValueError("give ?rate=N (accounts opened per second)")
            service.set_rate(float(values[0]))
        except ValueError as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
            return
        self._json(200, {"rate": service.rate})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: AccountService):
        self.service = service
        super().__init__(address, _Handler)


def make_server(service: AccountService, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``service`` bound to ``host:port`` (``port`` 0: any free port); call
    ``serve_forever()`` on it."""
    return _Server((host, port), service)
