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

from airflow_wecube.sandbox.account_service import CRASH_EXIT_CODE, AccountService, burn, make_server
from tests.fixtures.processes import free_port


def metrics(text: str) -> dict[str, float]:
    """``{sample name: value}`` of an exposition; a series with an ``operation`` label is ``name:operation``."""
    return {
        f"{s.name}:{s.labels['operation']}" if "operation" in s.labels else s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


IDLE = {"open_rate": 0, "close_rate": 0, "transfer_rate": 0}


@pytest.fixture
def served():
    """An in-process service (no generated load) on a free port, and a GET helper."""
    service = AccountService("1.2.3", **IDLE)
    crashes = []
    server = make_server(service, "127.0.0.1", 0, crash=lambda: crashes.append(time.monotonic()))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def get(path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str]:
        request = urllib.request.Request(base + path, method=method, data=body)
        try:
            with urllib.request.urlopen(request, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    service.crashes = crashes
    yield service, get
    server.shutdown()
    server.server_close()


def test_burn_spends_cpu_not_wall_time():
    start = time.thread_time()
    burn(0.02)
    assert time.thread_time() - start >= 0.02


def test_operations_move_the_counters_and_closing_costs_more():
    service = AccountService("1.0", **IDLE, open_cost=0.002, close_cost=0.004)
    start = time.thread_time()
    assert all(service.open_account() for _ in range(10))
    open_cpu = time.thread_time() - start
    start = time.thread_time()
    assert all(service.close_account() for _ in range(10))
    close_cpu = time.thread_time() - start
    assert open_cpu >= 0.02 and close_cpu >= 0.04
    assert close_cpu > open_cpu
    assert service.close_account()  # nothing opened since start left: still a close (an older account)
    values = metrics(generate_latest(service.registry).decode())
    assert values["accounts_opened_total"] == 10
    assert values["accounts_closed_total"] == 11
    assert values["account_errors_total"] == 0
    assert values["accounts_open"] == 0


def test_error_rate_fails_that_share_of_operations():
    service = AccountService("1.0", **IDLE, error_rate=0.5, open_cost=0, close_cost=0)
    service._random.seed(1)
    results = [service.open_account() for _ in range(400)]
    assert 150 < results.count(False) < 250
    assert service.errors._value.get() == results.count(False)


def _run_for(service: AccountService, seconds: float) -> float:
    """Run the generator for ``seconds`` of wall time; the CPU seconds this process spent."""
    stop = threading.Event()
    thread = threading.Thread(target=service.run_load, args=(stop,))
    cpu = time.process_time()
    thread.start()
    time.sleep(seconds)  # the load runs for a wall-clock span: that is what is measured
    stop.set()
    thread.join(timeout=5)
    return time.process_time() - cpu


def test_generated_load_follows_each_rate_independently():
    """Closes no longer follow opens: each operation runs at its own rate (the model can separate them)."""
    service = AccountService(
        "1.0+transfers", open_rate=10, close_rate=40, transfer_rate=20, open_cost=0.0005, close_cost=0.001
    )
    cpu = _run_for(service, 1.0)
    opened, closed = service.opened._value.get(), service.closed._value.get()
    transferred = service.transferred._value.get()
    assert 7 <= opened <= 12 and 30 <= closed <= 42 and 15 <= transferred <= 22
    assert closed > 3 * opened  # closes beyond opens: none fails for lack of open accounts
    assert service.errors._value.get() == 0
    assert cpu >= opened * 0.0005 + closed * 0.001 + transferred * 0.0015  # CPU follows the business volume


def test_transfers_only_in_a_transfers_build_and_slowclose_doubles_the_close_cost():
    plain = AccountService("1.0.0", **IDLE)
    assert not plain.transfers and not plain.transfer()
    assert plain.set_load(transfer_rate=50)["transfer_rate"] == 0  # accepted, not performed
    _run_for(plain, 0.3)
    assert plain.transferred._value.get() == 0
    values = metrics(generate_latest(plain.registry).decode())
    assert values["accounts_transferred_total"] == 0 and values["account_load_rate:transfer"] == 0
    assert values["account_operation_cost_seconds:close"] == 0.002
    slow = AccountService("1.1.0+slowclose", **IDLE)
    assert slow.costs == {"open": 0.001, "close": 0.004, "transfer": 0.0015}
    start = time.thread_time()
    slow.close_account()
    assert time.thread_time() - start >= 0.004
    both = AccountService("1.2.0+transfers.slowclose", open_rate=0, close_rate=0, transfer_rate=3, close_cost=0.003)
    assert both.transfers and both.costs["close"] == 0.006 and both.load()["transfer_rate"] == 3
    assert metrics(generate_latest(both.registry).decode())["account_load_rate:transfer"] == 3


def test_wave_moves_each_rate_on_its_own_period():
    service = AccountService("1.0+transfers", open_rate=10, close_rate=10, transfer_rate=10, wave=0.5)
    t0 = service._t0
    assert service.rate_now("open", t0) == 10
    assert service.rate_now("open", t0 + 150) == pytest.approx(15)  # a quarter of its 600 s period
    assert service.rate_now("close", t0 + 105) == pytest.approx(15)  # a quarter of 420 s
    assert service.rate_now("close", t0 + 150) != pytest.approx(service.rate_now("open", t0 + 150))
    service.set_load(wave=0)
    assert service.rate_now("open", t0 + 150) == 10


def test_broken_service_fails_its_health():
    assert AccountService("2.0-broken", **IDLE).health()[0] == 500
    assert AccountService("2.0", **IDLE, broken=True).health()[0] == 500
    code, body = AccountService("2.0", **IDLE).health()
    assert code == 200 and body["version"] == "2.0" and body["pid"] == os.getpid()


def test_bad_settings_are_refused():
    for kwargs, message in [
        ({"open_rate": -1}, "open_rate must be between 0 and 500"),
        ({"close_rate": 10_000}, "close_rate must be between 0 and 500"),
        ({"transfer_rate": float("nan")}, "transfer_rate must be between 0 and 500"),
        ({"wave": 1}, "wave must be between 0 and 0.9"),
        ({"transfer_cost": 1}, "transfer_cost must be between 0 and 0.05"),
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
    assert get("/crash")[0] == 404  # a GET never crashes it


def test_load_takes_rates_per_operation_from_the_body_or_the_query(served):
    service, get = served
    code, body = get("/load?open_rate=12.5", method="POST")
    assert code == 200 and json.loads(body)["open_rate"] == 12.5 and service.rates["open"] == 12.5
    code, body = get("/load", method="POST", body=json.dumps({"close_rate": 7, "transfer_rate": 4}).encode())
    answer = json.loads(body)
    assert code == 200 and answer["close_rate"] == 7 and answer["open_rate"] == 12.5  # the others kept
    assert answer["transfer_rate"] == 0 and answer["transfers_enabled"] is False  # not a +transfers build
    assert answer["wave"] == 0
    values = metrics(get("/metrics")[1])
    assert values["account_load_rate:open"] == 12.5 and values["account_load_rate:close"] == 7
    code, body = get("/load?wave=0.3&close_rate=1", method="POST")
    assert code == 200 and service.wave == 0.3 and service.rates["close"] == 1
    summary = json.loads(get("/")[1])
    assert summary["open_rate"] == 12.5 and summary["close_rate"] == 1 and summary["wave"] == 0.3


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/load?open_rate=9999", None, "open_rate must be between 0 and 500"),
        ("/load?open_rate=-1", None, "open_rate must be between 0 and 500"),
        ("/load?open_rate=abc", None, "open_rate must be a number"),
        ("/load?rate=5", None, "unknown key(s) rate: give any of open_rate, close_rate, transfer_rate, wave"),
        ("/load", {"open_rate": 1, "speed": 2}, "unknown key(s) speed"),
        ("/load", {"open_rate": True}, "open_rate must be a number"),
        ("/load?open_rate=1", {"open_rate": 2}, "open_rate is given both in the body and in the query"),
        ("/load?close_rate=1&close_rate=2", None, "close_rate is given 2 times"),
        ("/load", None, "nothing to change"),
        ("/load", [1], "the body must be a JSON object"),
        ("/load?wave=2", None, "wave must be between 0 and 0.9"),
    ],
)
def test_load_refuses_bad_requests_and_changes_nothing(served, path, body, message):
    service, get = served
    before = (dict(service.rates), service.wave)
    code, answer = get(path, method="POST", body=None if body is None else json.dumps(body).encode())
    assert code == 400 and message in json.loads(answer)["error"]
    assert (service.rates, service.wave) == before


def test_crash_answers_then_hands_over_to_the_crash_action(served):
    service, get = served
    assert get("/crash", method="POST")[0] == 202  # the in-process server's crash action records it
    # the server calls the crash action after the answer is sent: the caller may read it first
    deadline = time.monotonic() + 10
    while not service.crashes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(service.crashes) == 1


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
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_wecube.sandbox.account_service", "--port", str(port), "--version", "v9-broken"]
        + ["--open-rate", "0", "--close-rate", "0"],
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
    assert bad.returncode == 2 and b"open_rate must be between" in bad.stderr
    both = subprocess.run(
        run + ["--port", "1", "--version", "1", "--rate", "3", "--open-rate", "2"], capture_output=True
    )
    assert both.returncode == 2 and b"give --rate or --open-rate/--close-rate, not both" in both.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = str(s.getsockname()[1])
        busy = subprocess.run(run + ["--port", port, "--version", "1"], capture_output=True, timeout=30)
    assert busy.returncode == 1 and b"cannot listen on 127.0.0.1" in busy.stderr


def test_crash_ends_the_real_process_after_answering():
    """``POST /crash``: the caller gets its 202, then the process is gone with the crash exit code."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_wecube.sandbox.account_service", "--port", str(port), "--version", "1.0.0"]
        + ["--rate", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert _wait_health(port, proc)[0] == 200
        request = urllib.request.Request(f"http://127.0.0.1:{port}/crash", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 202 and json.loads(r.read())["pid"] == proc.pid
        assert proc.wait(timeout=10) == CRASH_EXIT_CODE
        assert b"crashing on request" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
