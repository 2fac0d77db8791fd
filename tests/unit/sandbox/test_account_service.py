"""The demo account service: business counters, CPU per operation, health, HTTP endpoints, CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from airflow_wecube.sandbox.account_service import AccountService, burn, make_server


def metrics(text: str) -> dict[str, float]:
    """``{sample name: value}`` of an exposition (labels dropped: one series each here)."""
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def served():
    """An in-process service (no generated load) on a free port, and a GET helper."""
    service = AccountService("1.2.3", rate=0)
    server = make_server(service, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def get(path: str, method: str = "GET") -> tuple[int, str]:
        request = urllib.request.Request(base + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    yield service, get
    server.shutdown()
    server.server_close()


def test_burn_spends_cpu_not_wall_time():
    start = time.thread_time()
    burn(0.02)
    assert time.thread_time() - start >= 0.02


def test_operations_move_the_counters_and_closing_costs_more():
    service = AccountService("1.0", rate=0, open_cost=0.002, close_cost=0.004)
    start = time.thread_time()
    assert all(service.open_account() for _ in range(10))
    open_cpu = time.thread_time() - start
    start = time.thread_time()
    assert all(service.close_account() for _ in range(10))
    close_cpu = time.thread_time() - start
    assert open_cpu >= 0.02 and close_cpu >= 0.04
    assert close_cpu > open_cpu
    assert not service.close_account()  # nothing left open: an error, counted
    values = metrics(generate_latest(service.registry).decode())
    assert values["accounts_opened_total"] == 10
    assert values["accounts_closed_total"] == 10
    assert values["account_errors_total"] == 1
    assert values["accounts_open"] == 0


def test_error_rate_fails_that_share_of_operations():
    service = AccountService("1.0", rate=0, error_rate=0.5, open_cost=0, close_cost=0)
    service._random.seed(1)
    results = [service.open_account() for _ in range(400)]
    assert 150 < results.count(False) < 250
    assert service.errors._value.get() == results.count(False)


def test_generated_load_follows_the_rate():
    service = AccountService("1.0", rate=100, open_cost=0.0005, close_cost=0.001)
    stop = threading.Event()
    thread = threading.Thread(target=service.run_load, args=(stop,))
    cpu = time.process_time()
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(timeout=5)
    cpu = time.process_time() - cpu
    opened, closed = service.opened._value.get(), service.closed._value.get()
    assert 70 <= opened <= 110
    assert 0.45 * opened <= closed <= 0.7 * opened
    assert cpu >= opened * 0.0005 + closed * 0.001  # CPU follows the business volume


def test_broken_service_fails_its_health():
    assert AccountService("2.0-broken", rate=0).health()[0] == 500
    assert AccountService("2.0", rate=0, broken=True).health()[0] == 500
    code, body = AccountService("2.0", rate=0).health()
    assert code == 200 and body["version"] == "2.0" and body["pid"] == os.getpid()


def test_bad_settings_are_refused():
    for kwargs, message in [
        ({"rate": -1}, "rate must be between 0 and 500"),
        ({"rate": 10_000}, "rate must be between 0 and 500"),
        ({"error_rate": 2}, "error_rate must be between 0 and 1"),
        ({"open_cost": -0.1}, "CPU costs must not be negative"),
    ]:
        with pytest.raises(ValueError, match=message):
            AccountService("1.0", **kwargs)
    with pytest.raises(ValueError, match="version must not be blank"):
        AccountService(" ")


def test_http_endpoints(served):
    service, get = served
    code, body = get("/health")
    assert code == 200 and json.loads(body)["status"] == "ok"
    service.open_account()
    code, body = get("/metrics")
    assert code == 200
    values = metrics(body)
    assert values["accounts_opened_total"] == 1
    assert values["accounts_closed_total"] == 0
    assert values["account_errors_total"] == 0
    assert values["account_service_info"] == 1
    if sys.platform.startswith("linux"):
        assert values["process_cpu_seconds_total"] > 0
    code, body = get("/")
    assert code == 200 and json.loads(body)["open_accounts"] == 1
    assert get("/nope")[0] == 404
    code, body = get("/load?rate=12.5", method="POST")
    assert code == 200 and service.rate == 12.5
    assert metrics(get("/metrics")[1])["account_load_rate"] == 12.5
    code, body = get("/load?rate=9999", method="POST")
    assert code == 400 and "rate must be between" in json.loads(body)["error"]
    assert service.rate == 12.5  # a bad value changes nothing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_health(port: int, proc: subprocess.Popen) -> tuple[int, dict]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the account service never answered")


def test_cli_serves_and_stops_on_sigterm():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_wecube.sandbox.account_service", "--port", str(port), "--version", "v9-broken"]
        + ["--rate", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        code, body = _wait_health(port, proc)
        assert code == 500
        assert body["status"] == "failing" and body["version"] == "v9-broken" and body["pid"] == proc.pid
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_cli_refuses_bad_arguments_and_a_busy_port():
    run = [sys.executable, "-m", "airflow_wecube.sandbox.account_service"]
    bad = subprocess.run(run + ["--port", "1", "--version", "1", "--rate", "-3"], capture_output=True, timeout=30)
    assert bad.returncode == 2 and b"rate must be between" in bad.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        busy = subprocess.run(run + ["--port", port, "--version", "1"], capture_output=True, timeout=30)
    assert busy.returncode == 1 and b"cannot listen on 127.0.0.1" in busy.stderr
