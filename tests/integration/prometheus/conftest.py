"""Servers for the Prometheus integration tests: a /metrics exporter and a Prometheus with 3 days of history."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest

from tests.fixtures.prometheus import PrometheusServer, free_port, start_prometheus

EXPORTER = """
import sys, time
from prometheus_client import Gauge, start_http_server
g = Gauge("wecube_demo_ready", "1 when the demo app is ready", ["app"])
g.labels(app="demo").set(1)
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    time.sleep(3600)
"""


@dataclass
class Exporter:
    port: int
    process: subprocess.Popen

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def exporter():
    """A real /metrics endpoint (prometheus_client) in a subprocess on a free loopback port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", EXPORTER, str(port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
                    assert b"wecube_demo_ready" in resp.read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"exporter did not start: {proc.stderr.read().decode()}") from None
                time.sleep(0.1)
        yield Exporter(port=port, process=proc)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


STEP = 15
DAYS = 3


@dataclass
class History:
    server: PrometheusServer
    start: int  # unix seconds of the first sample (on the 15 s grid)
    end: int  # unix seconds of the last sample
    step: int


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> History:
    """A second Prometheus whose TSDB holds 3 days at 15 s of two series, backfilled with promtool.

    ``wecube_hist{series="a"}`` at sample k is k, ``{series="b"}`` is -k: every value tells which
    instant it belongs to.
    """
    workdir = tmp_path_factory.mktemp("prometheus-history")
    now = int(time.time())
    end = (now - 3 * 3600) // STEP * STEP  # well before the head block
    start = end - DAYS * 86400
    path = workdir / "history.om"
    with open(path, "w") as fh:
        fh.write("# HELP wecube_hist backfilled test series\n# TYPE wecube_hist gauge\n")
        for series, sign in (("a", 1), ("b", -1)):
            fh.writelines(
                f'wecube_hist{{series="{series}"}} {sign * k} {t}\n' for k, t in enumerate(range(start, end + 1, STEP))
            )
        fh.write("# EOF\n")
    server = start_prometheus(workdir / "server", openmetrics=path)
    try:
        yield History(server=server, start=start, end=end, step=STEP)
    finally:
        server.stop()


@pytest.fixture
def history_conn(history: History, monkeypatch) -> str:
    """A connection ``prometheus_history`` to the backfilled server."""
    from tests.fixtures.prometheus import prometheus_conn_json

    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_HISTORY", prometheus_conn_json(history.server))
    return "prometheus_history"
