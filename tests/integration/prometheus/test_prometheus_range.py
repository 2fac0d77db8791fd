"""Range queries on backfilled history: splitting past 11,000 points, stitching, aligned frames,
special values, and the connection's auth, retries and TLS (through a loopback proxy)."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
import urllib3

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import (
    PrometheusError,
    PrometheusNoSeriesError,
    PrometheusQueryError,
    PrometheusUnreachableError,
)
from airflow_wecube.prometheus.ranges import split_range
from airflow_wecube.prometheus.times import format_ms


def test_prometheus_itself_refuses_the_unsplit_range(history):
    """The limit the hook works around is real: one request for 3 days at 15 s is refused."""
    resp = requests.get(
        f"{history.server.url}/api/v1/query_range",
        params={"query": "wecube_hist", "start": history.start, "end": history.end, "step": "15s"},
        timeout=30,
    )
    assert resp.status_code == 400 and "11,000 points" in resp.json()["error"]


def test_three_days_at_15s_every_timestamp_exactly_once(history, history_conn):
    hook = PrometheusHook(history_conn)
    start = datetime.fromtimestamp(history.start, tz=timezone.utc)
    frame = hook.query_range("wecube_hist", start, history.end, "15s")

    expected = pd.date_range(start, periods=(history.end - history.start) // 15 + 1, freq="15s", tz="UTC")
    assert len(expected) == 17_281 > 11_000
    assert frame.index.tz is not None and str(frame.index.tz) == "UTC"
    assert frame.index.is_unique and frame.index.is_monotonic_increasing
    assert frame.index.equals(expected)  # none missing, none doubled
    assert list(frame.columns) == ['wecube_hist{series="a"}', 'wecube_hist{series="b"}']
    k = np.arange(len(expected), dtype=float)
    np.testing.assert_array_equal(frame['wecube_hist{series="a"}'].to_numpy(), k)  # sample k at instant k
    np.testing.assert_array_equal(frame['wecube_hist{series="b"}'].to_numpy(), -k)


def test_aligned_frame_one_column_per_name(history, history_conn):
    hook = PrometheusHook(history_conn)
    frame = hook.query_range_frame(
        {"load": 'wecube_hist{series="a"}', "neg": 'wecube_hist{series="b"} * 2'},
        history.start,
        history.end,
        "1m",
    )
    assert list(frame.columns) == ["load", "neg"]
    assert len(frame) == 3 * 24 * 60 + 1
    assert frame.index[0] == pd.Timestamp(history.start, unit="s", tz="UTC")
    assert (frame.index[1:] - frame.index[:-1] == pd.Timedelta("1m")).all()
    np.testing.assert_array_equal(frame["neg"].to_numpy(), -2 * frame["load"].to_numpy())


def test_frame_query_with_several_series_names_the_query(history, history_conn):
    with pytest.raises(
        PrometheusQueryError, match=r"query 'both' \(wecube_hist\) returned 2 series, expected exactly 1"
    ):
        PrometheusHook(history_conn).query_range_frame(
            {"ok": 'wecube_hist{series="a"}', "both": "wecube_hist"}, history.start, history.start + 600, 15
        )


def test_frame_query_with_no_series_names_the_query(history, history_conn):
    # its own class, so that a nightly refit can tell "no data yet" (skip) from a bad query (fail)
    with pytest.raises(PrometheusNoSeriesError, match=r"query 'none' .* returned 0 series: nothing recorded"):
        PrometheusHook(history_conn).query_range_frame(
            {"none": "no_such_metric"}, history.start, history.start + 600, 15
        )


def test_bad_promql_in_a_range_carries_prometheus_message(history, history_conn):
    with pytest.raises(PrometheusQueryError, match="parse error") as info:
        PrometheusHook(history_conn).query_range("rate(wecube_hist[5m]", history.start, history.start + 600, "15s")
    assert info.value.status_code == 400 and info.value.error_type == "bad_data"


def test_gaps_stay_gaps_and_bad_steps_are_refused(history, history_conn):
    hook = PrometheusHook(history_conn)
    # the range runs past the backfilled data: the frame stops where the data stops (5 min lookback)
    frame = hook.query_range('wecube_hist{series="a"}', history.end - 60, history.end + 3600, "15s")
    assert frame.index[0] == pd.Timestamp(history.end - 60, unit="s", tz="UTC")
    assert frame.index[-1] <= pd.Timestamp(history.end + 300, unit="s", tz="UTC")
    with pytest.raises(ValueError, match="not a duration"):
        hook.query_range("wecube_hist", history.start, history.end, "fast")
    with pytest.raises(PrometheusQueryError, match="before start"):
        hook.query_range("wecube_hist", history.end, history.start, "15s")


def test_nan_and_infinities_come_through_as_floats(history, history_conn):
    """Prometheus sends values as strings ("NaN", "+Inf", "-Inf"); the frame holds real floats."""
    frame = PrometheusHook(history_conn).query_range_frame(
        {"pos": 'wecube_hist{series="a"} / 0', "neg": 'wecube_hist{series="b"} / 0'},
        history.start,
        history.start + 600,
        15,
    )
    assert len(frame) == 41
    assert np.isnan(frame["pos"].iloc[0]) and np.isnan(frame["neg"].iloc[0])  # sample 0: 0 / 0
    assert (frame["pos"].iloc[1:] == np.inf).all() and (frame["neg"].iloc[1:] == -np.inf).all()


def test_same_frame_with_one_or_many_requests_in_flight(history, history_conn):
    queries = {"a": 'wecube_hist{series="a"}', "b": 'wecube_hist{series="b"}'}
    frames = []
    for workers in (1, 3):
        hook = PrometheusHook(history_conn)
        hook.range_concurrency = workers
        frames.append(hook.query_range_frame(queries, history.start, history.end, "15s"))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert len(frames[0]) == 17_281 and not frames[0].isna().any().any()


# -- a loopback proxy in front of the backfilled Prometheus: auth, retries, TLS, odd answers --------


class _Proxy:
    """Forwards GETs to ``upstream``, records them, and can demand auth, fail or answer HTML."""

    def __init__(self, upstream: str, ssl_context=None):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.reset()

        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with proxy.lock:
                    proxy.seen.append((self.path, self.headers.get("Authorization")))
                    failures = proxy.failures.get(self.path, 0)
                    if proxy.fail_first > failures:
                        proxy.failures[self.path] = failures + 1
                if proxy.authorization and self.headers.get("Authorization") != proxy.authorization:
                    return self._send(401, b"Unauthorized\n", "text/plain")
                if proxy.fail_first > failures:
                    return self._send(503, b"upstream busy\n", "text/plain")
                if proxy.html:
                    return self._send(200, b"<html><body>login page</body></html>", "text/html")
                try:
                    with urllib.request.urlopen(proxy.upstream + self.path, timeout=30) as resp:
                        status, body = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                self._send(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        self.seen: list[tuple[str, str | None]] = []
        self.failures: dict[str, int] = {}
        self.fail_first = 0
        self.authorization: str | None = None
        self.html = False

    def chunk_bounds(self) -> list[tuple[str, str]]:
        out = []
        for path, _ in self.seen:
            params = parse_qs(urlsplit(path).query)
            if urlsplit(path).path == "/api/v1/query_range":
                out.append((params["start"][0], params["end"][0]))
        return out

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def proxy_server(history):
    server = _Proxy(history.server.url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(proxy_server):
    proxy_server.reset()
    yield proxy_server
    proxy_server.reset()


def _proxy_conn(monkeypatch, url: str, **fields) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_PROMETHEUS_PROXY", json.dumps({"conn_type": "prometheus", "host": url, **fields}))
    return "prometheus_proxy"


@pytest.mark.parametrize(
    ("fields", "authorization"),
    [
        ({"login": "reader", "password": "s3cret"}, "Basic " + base64.b64encode(b"reader:s3cret").decode()),
        ({"password": "t0ken", "extra": {"bearer_token": True}}, "Bearer t0ken"),
    ],
    ids=["basic", "bearer"],
)
def test_range_chunks_use_the_connection_auth_and_retry(
    history, history_conn, proxy, monkeypatch, fields, authorization
):
    """Every chunk goes through the hook's session: its auth, and a retry after a 503."""
    proxy.authorization = authorization
    proxy.fail_first = 1  # every chunk URL is refused once, then answered
    conn_id = _proxy_conn(monkeypatch, proxy.url, **fields)
    start = history.start + 7  # off the whole second: chunk bounds are sent exactly, in ms
    frame = PrometheusHook(conn_id).query_range_frame({"a": 'wecube_hist{series="a"}'}, start, history.end, "15s")
    direct = PrometheusHook(history_conn).query_range_frame({"a": 'wecube_hist{series="a"}'}, start, history.end, "15s")
    pd.testing.assert_frame_equal(frame, direct)
    assert len(frame) == (history.end - start) // 15 + 1 and frame.index.is_unique

    chunks = [(format_ms(s), format_ms(e)) for s, e in split_range(start * 1000, history.end * 1000, 15_000)]
    assert len(chunks) == 2
    assert sorted(proxy.chunk_bounds()) == sorted(chunks * 2)  # each chunk: a 503, then the answer
    assert {auth for _, auth in proxy.seen} == {authorization}


def test_range_without_credentials_gets_the_servers_answer(history, proxy, monkeypatch):
    proxy.authorization = "Bearer needed"
    with pytest.raises(PrometheusError, match=r"HTTP 401\): Unauthorized") as info:
        PrometheusHook(_proxy_conn(monkeypatch, proxy.url)).query_range(
            "wecube_hist", history.start, history.start + 60, 15
        )
    assert info.value.status_code == 401 and not isinstance(info.value, PrometheusQueryError)


def test_range_gives_up_after_the_retries(history, proxy, monkeypatch):
    proxy.fail_first = 100
    with pytest.raises(PrometheusError, match=r"HTTP 503\): upstream busy") as info:
        PrometheusHook(_proxy_conn(monkeypatch, proxy.url)).query_range(
            "wecube_hist", history.start, history.start + 60, 15
        )
    assert info.value.status_code == 503
    assert len(proxy.seen) == 3  # the request and two retries


def test_range_with_a_body_that_is_not_prometheus_says_so(history, proxy, monkeypatch):
    proxy.html = True
    with pytest.raises(PrometheusError, match=r"unexpected body .*login page"):
        PrometheusHook(_proxy_conn(monkeypatch, proxy.url)).query_range(
            "wecube_hist", history.start, history.start + 60, 15
        )


@pytest.fixture(scope="session")
def tls_proxy(history, tmp_path_factory):
    """The proxy behind TLS with a self-signed certificate for 127.0.0.1."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Proxy(history.server.url, ssl_context=context)
    try:
        yield server, cert
    finally:
        server.stop()


def test_range_over_tls_honours_the_connections_verify(history, tls_proxy, monkeypatch):
    server, cert = tls_proxy
    server.reset()
    with pytest.raises(PrometheusUnreachableError, match="is unreachable: .*(?i:certificate verify failed)"):
        PrometheusHook(_proxy_conn(monkeypatch, server.url)).query_range(
            "wecube_hist", history.start, history.start + 60, 15
        )
    conn_id = _proxy_conn(monkeypatch, server.url, extra={"verify": str(cert)})
    frame = PrometheusHook(conn_id).query_range_frame(
        {"a": 'wecube_hist{series="a"}'}, history.start, history.start + 60, 15
    )
    assert frame["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    # verify=false holds even though REQUESTS_CA_BUNDLE may be set in the environment
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert.with_name("no-such-bundle.pem")))
    conn_id = _proxy_conn(monkeypatch, server.url, extra={"verify": "false"})
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        frame = PrometheusHook(conn_id).query_range("wecube_hist", history.start, history.start + 60, 15)
    assert len(frame) == 5
