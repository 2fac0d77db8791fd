"""The alert loop under a real ``airflow standalone``: a Prometheus alert rule fires, Prometheus sends the
alert to the session Alertmanager, Alertmanager posts it to ``POST /wecube/alerts``, that records an
Asset event and the DAG scheduled on ``alert_asset("WeCubeE2EAlert")`` runs with the alert in
``triggering_asset_events``. The alert resolves when a metric the test serves goes back to 0.

It also measures the receiver's part of the latency (asset event recorded → DAG run queued and started,
from Airflow's own timestamps) and prints it (``-s``); bench/closed_loop.py reports it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

DAG_FILE = Path(__file__).parent / "dags" / "wecube_alert_e2e.py"
DAG_ID = "wecube_alert_e2e"
ALERT = "WeCubeE2EAlert"


class Switch:
    """A scrape target serving ``wecube_e2e_switch <value>``: the alert rule fires while it is 1."""

    def __init__(self):
        self.value = 0
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = f"# TYPE wecube_e2e_switch gauge\nwecube_e2e_switch {switch.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _reload(prometheus) -> None:
    request = urllib.request.Request(f"{prometheus.url}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200


@pytest.fixture(scope="module")
def loop(alert_webhook, standalone, prometheus):
    """The standalone with the DAG; Prometheus scraping the switch with a rule on it."""
    switch = Switch()
    targets = prometheus.file_sd_dir / "wecube_e2e_switch.json"
    rules = prometheus.rules_dir / "wecube_e2e_alert.yml"
    targets.write_text(json.dumps([{"targets": [switch.target], "labels": {"job": "wecube_e2e_switch"}}]))
    rules.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "wecube_e2e",
                        "rules": [
                            {
                                "alert": ALERT,
                                "expr": "wecube_e2e_switch == 1",
                                "labels": {"severity": "page"},
                                "annotations": {"summary": "switch {{ $labels.instance }} is on"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    _reload(prometheus)
    standalone.add_dags([DAG_FILE])
    standalone.wait_for_dag(DAG_ID)
    try:
        yield {"sa": standalone, "am": alert_webhook, "prometheus": prometheus, "switch": switch}
    finally:
        switch.value = 0
        rules.unlink(missing_ok=True)
        targets.unlink(missing_ok=True)
        _reload(prometheus)
        switch.stop()


def _runs(sa) -> list[dict]:
    runs = sa.client().request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
    return sorted((r for r in runs if r["run_type"] == "asset_triggered"), key=lambda r: r["queued_at"])


def _events(sa) -> list[dict]:
    client = sa.client()
    assets = client.request(
        "GET", "/api/v2/assets", params={"uri_pattern": f"wecube-alert://{ALERT}", "only_active": "false"}
    )["assets"]
    if not assets:
        return []
    (asset,) = assets
    events = client.asset_events(asset_id=asset["id"])
    return sorted(events, key=lambda e: e["id"])


def _post(sa, body: bytes, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{sa.url}/wecube/alerts", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_alert_fires_resolves_and_each_change_starts_one_run(loop):
    sa, am, switch = loop["sa"], loop["am"], loop["switch"]
    assert _runs(sa) == [] and _events(sa) == []

    # fire: rule → Prometheus → Alertmanager → webhook → event → run
    switch.value = 1
    fired = time.time()
    (event,) = sa.wait_for(lambda: _events(sa), timeout=90, what=f"an asset event for {ALERT}")
    extra = event["extra"]
    assert extra["status"] == "firing" and extra["alertname"] == ALERT
    assert extra["labels"]["severity"] == "page" and extra["labels"]["instance"] == switch.target
    assert extra["annotations"]["summary"] == f"switch {switch.target} is on"
    assert extra["fingerprint"] and extra["startsAt"] and extra["endsAt"] is None
    (run,) = sa.wait_for(lambda: _runs(sa), timeout=60, what=f"a run of {DAG_ID}")
    run = sa.wait_for_run_state(DAG_ID, run["dag_run_id"], "success")
    (alert,) = sa.client().xcom(DAG_ID, run["dag_run_id"], "read_alerts")
    assert alert == extra  # the alert reaches the run through triggering_asset_events
    queued = _ts(run["queued_at"]) - _ts(event["timestamp"])
    started = _ts(run["start_date"]) - _ts(event["timestamp"])
    print(
        f"\nalert loop: switch on -> event recorded {_ts(event['timestamp']) - fired:.2f}s; "
        f"event -> run queued {queued:.2f}s, -> run started {started:.2f}s"
    )
    assert started <= 5.0, f"DAG run started {started:.2f}s after the alert was recorded (goal 5 s)"

    # the same state change delivered again (as Alertmanager does on repeat_interval): recorded once
    again = {
        "version": "4",
        "status": "firing",
        "receiver": "wecube",
        "alerts": [
            {k: extra[k] for k in ("status", "labels", "annotations", "fingerprint", "startsAt", "generatorURL")}
        ],
    }
    status, body = _post(sa, json.dumps(again).encode(), am.secret)
    assert status == 200 and body["recorded"] == [] and len(body["duplicates"]) == 1, body
    # without or with a wrong secret, or malformed: refused, nothing recorded
    assert _post(sa, json.dumps(again).encode(), None)[0] == 401
    assert _post(sa, json.dumps(again).encode(), am.secret + "x")[0] == 401
    status, body = _post(sa, b'{"version": "4", "alerts": [{}]}', am.secret)
    assert status == 400 and "alerts[0].labels: Field required" in body["detail"]
    assert len(_events(sa)) == 1

    # resolve: a new state change, a second run; the duplicate above made none
    switch.value = 0
    events = sa.wait_for(lambda: len(_events(sa)) == 2 and _events(sa), timeout=90, what="the resolved event")
    assert [e["extra"]["status"] for e in events] == ["firing", "resolved"]
    assert events[1]["extra"]["fingerprint"] == extra["fingerprint"]
    assert events[1]["extra"]["startsAt"] == extra["startsAt"]
    runs = sa.wait_for(lambda: len(_runs(sa)) == 2 and _runs(sa), timeout=60, what="the second run")
    second = sa.wait_for_run_state(DAG_ID, runs[1]["dag_run_id"], "success")
    assert [a["status"] for a in sa.client().xcom(DAG_ID, second["dag_run_id"], "read_alerts")] == ["resolved"]
    assert len(_runs(sa)) == 2 and len(_events(sa)) == 2
