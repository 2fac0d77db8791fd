"""PrometheusHook writes ride out a Prometheus that is down for a few seconds (a restart):
the confirm and reload steps retry with bounded backoff instead of failing at once."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request

import pytest

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import PrometheusConfigError, PrometheusUnreachableError
from tests.fixtures.prometheus import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration

#: how long Prometheus stays down in these tests
OUTAGE = 3.0


def _ready(server: PrometheusServer) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/-/ready", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Outage:
    """Stop ``server`` now; start it again, same port and folders, ``seconds`` later (in a thread)."""

    def __init__(self, server: PrometheusServer, seconds: float):
        self.server = server
        self.seconds = seconds
        self.back_at: float | None = None
        server.stop()
        assert not _ready(server)
        self.down_at = time.monotonic()
        self._thread = threading.Thread(target=self._restart, daemon=True)
        self._thread.start()

    def _restart(self) -> None:
        time.sleep(self.seconds)
        with open(self.server.log_path, "ab") as log:
            self.server.process = subprocess.Popen(
                self.server.process.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.server.workdir,
            )
        self.back_at = time.monotonic()

    def join(self) -> None:
        self._thread.join(timeout=30)


@pytest.fixture
def own_prometheus(tmp_path, monkeypatch):
    """A Prometheus of this test's own (it gets stopped and started), and its connection."""
    server = start_prometheus(tmp_path / "prom")
    holder = {"server": server}

    def set_conn(**extra):
        monkeypatch.setenv(
            "AIRFLOW_CONN_PROMETHEUS_OUTAGE",
            json.dumps(
                {
                    "conn_type": "prometheus",
                    "host": server.url,
                    "extra": {"file_sd_dir": str(server.file_sd_dir), "rules_dir": str(server.rules_dir), **extra},
                }
            ),
        )
        return "prometheus_outage"

    holder["conn"] = set_conn
    try:
        yield holder
    finally:
        server.stop()


def test_register_targets_waits_out_a_short_outage(own_prometheus):
    server = own_prometheus["server"]
    hook = PrometheusHook(own_prometheus["conn"]())
    target = f"127.0.0.1:{server.port}"  # Prometheus itself: up once it is back
    outage = Outage(server, OUTAGE)
    try:
        assert hook.register_targets("outage_job", [target], {"env": "it"}, timeout=60) == [target]
    finally:
        outage.join()
    assert outage.back_at is not None and time.monotonic() >= outage.back_at
    listed = [t for t in server.api("targets")["data"]["activeTargets"] if t["labels"]["job"] == "outage_job"]
    assert [t["discoveredLabels"]["__address__"] for t in listed] == [target]


def test_rule_group_reload_waits_out_a_short_outage(own_prometheus):
    server = own_prometheus["server"]
    hook = PrometheusHook(own_prometheus["conn"]())
    outage = Outage(server, OUTAGE)
    try:
        group = hook.apply_rule_group("outage_rules", [{"alert": "OutageDown", "expr": "up == 0", "for": "1m"}])
    finally:
        outage.join()
    assert [r["name"] for r in group["rules"]] == ["OutageDown"]
    assert (server.rules_dir / "outage_rules.yml").exists()


def test_retries_are_bounded_and_configurable(own_prometheus):
    server = own_prometheus["server"]
    hook = PrometheusHook(own_prometheus["conn"](retry_limit=2, retry_delay=0.2))
    server.stop()
    started = time.monotonic()
    with pytest.raises(PrometheusUnreachableError, match=r"after 3 attempts") as info:
        hook.register_targets("bounded_job", ["127.0.0.1:9"], timeout=60)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 10, elapsed  # waited 0.2 + 0.4 s between the three attempts, not the 60 s confirm
    assert server.url in str(info.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"retry_limit": "many"}, r"retry_limit' must be a whole number from 0 to 20"),
        ({"retry_limit": -1}, r"retry_limit' must be a whole number from 0 to 20"),
        ({"retry_delay": "soon"}, r"retry_delay' must be seconds from 0 to 60"),
    ],
)
def test_bad_retry_settings_are_refused(own_prometheus, extra, message):
    hook = PrometheusHook(own_prometheus["conn"](**extra))
    with pytest.raises(PrometheusConfigError, match=message):
        hook.register_targets("bad_settings_job", ["127.0.0.1:9"])
    assert not (own_prometheus["server"].file_sd_dir / "bad_settings_job.json").exists()
