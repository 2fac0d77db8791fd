"""AirflowClient against a small real HTTP server on loopback standing in for the API server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_wecube.util.airflow_api import AirflowAPIError, AirflowClient


class FakeAirflow(BaseHTTPRequestHandler):
    """Answers /auth/token, then fails POST /api/v2/x with the API server's "Database error" N times."""

    db_errors = 0
    posts = 0
    #: GET /api/v2/assets/events answers Airflow 3.3.2's 500 this many times (a created run not started yet)
    not_started = 0
    gets = 0

    def log_message(self, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/auth/token":
            return self._send(201, {"access_token": "t"})
        type(self).posts += 1
        if type(self).posts <= type(self).db_errors:
            return self._send(500, {"reason": "Database error", "message": "Serious error when handling your request."})
        return self._send(200, {"ok": type(self).posts})

    def do_GET(self):
        type(self).gets += 1
        if type(self).gets <= type(self).not_started:  # what uvicorn sends for the response model's ValidationError
            data = b"Internal Server Error"
            self.send_response(500)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return self._send(200, {"asset_events": [{"id": 1, "path": self.path}], "total_entries": 1})


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeAirflow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    FakeAirflow.posts = FakeAirflow.gets = 0
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_database_error_is_retried(server):
    FakeAirflow.db_errors = 2
    client = AirflowClient(server, "admin", "pw")
    client.db_error_backoff = (0.01, 0.01, 0.01)
    assert client.request("POST", "/api/v2/x", json={}) == {"ok": 3}


def test_database_error_gives_up_after_the_backoff(server):
    FakeAirflow.db_errors = 10
    client = AirflowClient(server, "admin", "pw")
    client.db_error_backoff = (0.01, 0.01)
    with pytest.raises(AirflowAPIError) as e:
        client.request("POST", "/api/v2/x", json={})
    assert e.value.status == 500 and FakeAirflow.posts == 3


def test_asset_events_are_asked_again_while_airflow_cannot_list_a_run_not_started(server):
    FakeAirflow.not_started = 2
    client = AirflowClient(server, "admin", "pw")
    client.asset_events_backoff = (0.01, 0.01, 0.01)
    (event,) = client.asset_events(asset_id=7, limit=100)
    assert event["path"] == "/api/v2/assets/events?asset_id=7&limit=100" and FakeAirflow.gets == 3


def test_asset_events_give_up_after_the_backoff_with_airflows_answer(server):
    FakeAirflow.not_started = 10
    client = AirflowClient(server, "admin", "pw")
    client.asset_events_backoff = (0.01,)
    with pytest.raises(AirflowAPIError, match="500") as e:
        client.asset_events(asset_id=7)
    assert e.value.status == 500 and FakeAirflow.gets == 2
