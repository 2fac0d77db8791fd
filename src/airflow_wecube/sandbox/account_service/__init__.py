"""The demo "account service" that ``deploy/app/deploy`` runs on a sandbox host.

A small HTTP server (:mod:`http.server`) that generates its own business load and exposes it to
Prometheus:

``GET /health``   200 ``{"status": "ok", "version", "pid"}``; 500 when the service is broken
                  (``--broken``, or a version string containing ``broken``)
``GET /metrics``  counters ``accounts_opened_total``, ``accounts_closed_total``,
                  ``accounts_transferred_total``, ``account_errors_total``; gauges ``accounts_open``,
                  ``account_load_rate{operation}`` (the rate the generator runs, per second),
                  ``account_operation_cost_seconds{operation}`` (the CPU it spends per operation),
                  ``account_service_info{version}`` and the process collector's
                  ``process_cpu_seconds_total`` (Linux)
``GET /``         a JSON summary
``POST /load``    change the load while running: ``open_rate``, ``close_rate``, ``transfer_rate``
                  (per second, 0-500) and ``wave`` (0-0.9), as a JSON object body and/or query
                  parameters (``/load?open_rate=10``). Keys not given keep their value; rates given
                  without ``wave`` make the load steady (``wave`` 0). 400 with the reason on an unknown
                  key, a bad value or a key given twice, and nothing changes.
``POST /crash``   answers 202, then the process exits at once (code :data:`CRASH_EXIT_CODE`): an
                  incident on purpose, for the closed-loop demo and its tests

The load: three business operations, each at its own rate (independent, so a capacity model can
tell their costs apart), each burning a calibrated amount of CPU per operation (measured on the
thread's CPU clock): 1 ms per open, 2 ms per close, 1.5 ms per transfer by default, so that CPU
use follows business volume. ``wave`` > 0 modulates each rate by a slow sine of its own period
(10, 7 and 13 minutes), so that history the service leaves in Prometheus varies like a business
day and a nightly fit can separate the operations. Closes never fail for lack of open accounts
(a close of an account opened before the service started counts like any other), so the close
volume is the close rate.

Demo behaviour from the version's build metadata (:mod:`.load`): ``+slowclose`` doubles the close
cost; ``+transfers`` turns transfers on (without it no transfer is performed and
``accounts_transferred_total`` stays 0, whatever ``transfer_rate`` says). The default load (5 opens,
3 closes per second) costs about 1 % of a core.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import sys
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

from airflow_wecube.sandbox.account_service.load import (
    DEFAULT_COSTS,
    DEFAULT_RATES,
    MAX_RATE,
    OPERATIONS,
    WAVE_PERIODS,
    check_cost,
    check_rate,
    check_wave,
    effective_costs,
    parse_load,
    transfers_enabled,
)

__all__ = ["CRASH_EXIT_CODE", "MAX_RATE", "AccountService", "burn", "make_server"]

#: the load generator's tick (seconds)
TICK = 0.05
#: the exit code of a process crashed with ``POST /crash``
CRASH_EXIT_CODE = 70
#: the largest request body read (bytes)
MAX_BODY = 64 * 1024


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time (not wall time) in a busy loop."""
    if seconds <= 0:
        return
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class AccountService:
    """The service's state, metrics and load generator (no HTTP here; see :func:`make_server`).

    :param version: the version it reports (``broken`` in it makes the service unhealthy; build
        metadata ``+slowclose`` / ``+transfers`` is demo behaviour, see :mod:`.load`)
    :param open_rate: accounts opened per second by the load generator (0 = none)
    :param close_rate: accounts closed per second
    :param transfer_rate: transfers per second (performed only by a ``+transfers`` build)
    :param wave: relative amplitude (0-0.9) of the slow wave on each rate (0 = steady)
    :param broken: force an unhealthy service whatever the version
    :param error_rate: fraction of operations that fail (counted in ``account_errors_total``)
    :param open_cost: CPU seconds spent per open
    :param close_cost: CPU seconds spent per close (doubled by ``+slowclose``)
    :param transfer_cost: CPU seconds spent per transfer
    :param registry: the Prometheus registry (a new one by default, with process and platform collectors)
    """

    def __init__(
        self,
        version: str,
        *,
        open_rate: float = DEFAULT_RATES["open"],
        close_rate: float = DEFAULT_RATES["close"],
        transfer_rate: float = DEFAULT_RATES["transfer"],
        wave: float = 0.0,
        broken: bool = False,
        error_rate: float = 0.0,
        open_cost: float = DEFAULT_COSTS["open"],
        close_cost: float = DEFAULT_COSTS["close"],
        transfer_cost: float = DEFAULT_COSTS["transfer"],
        registry: CollectorRegistry | None = None,
    ):
        if not version.strip():
            raise ValueError("version must not be blank")
        if not 0 <= error_rate <= 1:
            raise ValueError(f"error_rate must be between 0 and 1, got {error_rate}")
        if min(open_cost, close_cost, transfer_cost) < 0:
            raise ValueError("CPU costs must not be negative")
        base = {"open": open_cost, "close": close_cost, "transfer": transfer_cost}
        self.version = version
        self.broken = broken or "broken" in version.lower()
        self.error_rate = error_rate
        self.transfers = transfers_enabled(version)
        self.costs = effective_costs(version, {op: check_cost(f"{op}_cost", v) for op, v in base.items()})
        self._lock = threading.Lock()
        self._open = 0
        self._random = random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self.registry = registry
        self.opened = Counter("accounts_opened", "Accounts opened", registry=registry)
        self.closed = Counter("accounts_closed", "Accounts closed", registry=registry)
        self.transferred = Counter("accounts_transferred", "Transfers between accounts", registry=registry)
        self.errors = Counter("account_errors", "Account operations that failed", registry=registry)
        self.open_gauge = Gauge("accounts_open", "Accounts opened (and not closed) since start", registry=registry)
        self.rate_gauge = Gauge(
            "account_load_rate", "Generated load: operations per second", ["operation"], registry=registry
        )
        cost_gauge = Gauge(
            "account_operation_cost_seconds", "CPU seconds spent per operation", ["operation"], registry=registry
        )
        for op in OPERATIONS:
            cost_gauge.labels(op).set(self.costs[op])
        Info("account_service", "The running build", registry=registry).info(
            {"version": version, "transfers": str(self.transfers).lower()}
        )
        self.rates = {op: 0.0 for op in OPERATIONS}
        self.wave = 0.0
        self.set_load(open_rate=open_rate, close_rate=close_rate, transfer_rate=transfer_rate, wave=wave)

    # -- business --------------------------------------------------------------------------

    def set_load(self, **settings: float) -> dict:
        """Change any of ``open_rate``, ``close_rate``, ``transfer_rate``, ``wave``; all checked
        before any changes (:class:`ValueError`). Returns :meth:`load`."""
        rates = dict(self.rates)
        wave = self.wave
        for key, value in settings.items():
            if key == "wave":
                wave = check_wave(value)
            elif key.endswith("_rate") and key[: -len("_rate")] in OPERATIONS:
                rates[key[: -len("_rate")]] = check_rate(key, value)
            else:
                raise ValueError(f"unknown load setting {key!r}")
        self.rates, self.wave = rates, wave
        for op in OPERATIONS:
            self.rate_gauge.labels(op).set(self.applied_rate(op))
        return self.load()

    def applied_rate(self, op: str) -> float:
        """The rate the generator runs for ``op`` (transfers: 0 unless the build performs them)."""
        return 0.0 if op == "transfer" and not self.transfers else self.rates[op]

    def load(self) -> dict:
        """The load as ``POST /load`` and ``GET /`` report it."""
        return {
            **{f"{op}_rate": self.applied_rate(op) for op in OPERATIONS},
            "wave": self.wave,
            "transfers_enabled": self.transfers,
            "costs": {op: self.costs[op] for op in OPERATIONS},
        }

    @property
    def open_accounts(self) -> int:
        return self._open

    def _fails(self) -> bool:
        return self.error_rate > 0 and self._random.random() < self.error_rate

    def open_account(self) -> bool:
        """Open one account (spends the open cost of CPU); ``False`` when it failed."""
        burn(self.costs["open"])
        if self._fails():
            self.errors.inc()
            return False
        with self._lock:
            self._open += 1
            self.open_gauge.set(self._open)
        self.opened.inc()
        return True

    def close_account(self) -> bool:
        """Close one account (spends the close cost of CPU); ``False`` when it failed (``error_rate``).

        A close never fails for lack of accounts: the bank has accounts from before the service
        started, so the close volume is the close rate (``accounts_open`` does not go below 0).
        """
        burn(self.costs["close"])
        if self._fails():
            self.errors.inc()
            return False
        with self._lock:
            self._open = max(0, self._open - 1)
            self.open_gauge.set(self._open)
        self.closed.inc()
        return True

    def transfer(self) -> bool:
        """One transfer between accounts (spends the transfer cost of CPU); ``False`` when it failed
        or when this build does not perform transfers (nothing spent, nothing counted)."""
        if not self.transfers:
            return False
        burn(self.costs["transfer"])
        if self._fails():
            self.errors.inc()
            return False
        self.transferred.inc()
        return True

    def health(self) -> tuple[int, dict]:
        body = {"status": "ok", "version": self.version, "pid": os.getpid()}
        if self.broken:
            return 500, {**body, "status": "failing", "reason": f"version {self.version} is broken"}
        return 200, body

    # -- load generator --------------------------------------------------------------------

    def rate_now(self, op: str, now: float | None = None) -> float:
        """``op``'s rate at ``now`` (monotonic seconds): the applied rate times the slow wave."""
        rate = self.applied_rate(op)
        if not self.wave or not rate:
            return rate
        t = (time.monotonic() if now is None else now) - self._t0
        return rate * (1 + self.wave * math.sin(2 * math.pi * t / WAVE_PERIODS[op]))

    def run_load(self, stop: threading.Event | None = None) -> None:
        """Generate load until ``stop`` (or :meth:`stop`) is set: each operation at its own rate."""
        stop = stop or self._stop
        due = {op: 0.0 for op in OPERATIONS}
        actions = {"open": self.open_account, "close": self.close_account, "transfer": self.transfer}
        last = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            elapsed, last = now - last, now
            for op in OPERATIONS:
                due[op] += self.rate_now(op, now) * elapsed
            for op in OPERATIONS:
                while due[op] >= 1 and not stop.is_set():
                    due[op] -= 1
                    actions[op]()
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
            summary = {"service": "account-service", "version": service.version}
            summary.update(open_accounts=service.open_accounts, pid=os.getpid(), **service.load())
            self._json(200, summary)
        else:
            self._json(404, {"error": f"no such path: {path}"})

    def _body(self) -> tuple[object, str | None]:
        """The request's JSON body (``None`` when empty), or why it is unusable."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None, "Content-Length is not a number"
        if length > MAX_BODY:
            return None, f"the body is larger than {MAX_BODY} bytes"
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw.strip():
            return None, None
        try:
            return json.loads(raw), None
        except ValueError:
            return None, 'the body is not JSON: send a JSON object such as {"open_rate": 10}'

    def do_POST(self) -> None:  # noqa: N802
        service = self.server.service
        url = urlsplit(self.path)
        body, problem = self._body()
        if url.path == "/crash":
            self._json(HTTPStatus.ACCEPTED, {"status": "crashing", "pid": os.getpid(), "exit_code": CRASH_EXIT_CODE})
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)  # the answer, then FIN: the caller reads it whole
            except OSError:
                pass
            self.close_connection = True
            self.server.crash()
            return
        if url.path != "/load":
            self._json(404, {"error": f"no such path: {url.path}"})
            return
        try:
            if problem:
                raise ValueError(problem)
            settings = parse_load(body, parse_qs(url.query, keep_blank_values=True))
            if "wave" not in settings:
                settings["wave"] = 0.0  # rates given: a steady load
            load = service.set_load(**settings)
        except ValueError as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
            return
        self._json(200, load)


def _exit_now() -> None:
    """End the process at once, without cleanup: a crash."""
    print(f"account service: crashing on request (exit code {CRASH_EXIT_CODE})", file=sys.stderr, flush=True)
    os._exit(CRASH_EXIT_CODE)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: AccountService, crash=_exit_now):
        self.service = service
        self.crash = crash
        super().__init__(address, _Handler)


def make_server(service: AccountService, host: str = "127.0.0.1", port: int = 0, *, crash=None) -> ThreadingHTTPServer:
    """An HTTP server for ``service`` bound to ``host:port`` (``port`` 0: any free port); call
    ``serve_forever()`` on it.

    :param crash: what ``POST /crash`` does once it answered 202 (default: ``os._exit``; an
        in-process test passes its own)
    """
    return _Server((host, port), service, crash or _exit_now)
