"""PrometheusHook's HTTP layer against a scripted loopback server: a whole-request deadline and a
size cap, so a Prometheus (or proxy) that trickles bytes or answers without end cannot hold a task."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_wecube.hooks.prometheus import PrometheusHook
from airflow_wecube.prometheus.errors import PrometheusError, PrometheusUnreachableError

pytestmark = pytest.mark.integration

VECTOR = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]}}


@pytest.fixture
def prom(scripted_server, monkeypatch):
    def make(**extra):
        conn = {"conn_type": "prometheus", "host": scripted_server.url, "extra": {"timeout": 1, **extra}}
        monkeypatch.setenv("AIRFLOW_CONN_PROM_SCRIPTED", json.dumps(conn))
        return PrometheusHook("prom_scripted")

    return make


def trickle(server, headers_too=False):
    """A valid answer that would take about 10 s at one byte every 0.1 s (each read well under timeout)."""
    server.reply(json.dumps(VECTOR).encode() + b" " * 100, trickle=0.1, trickle_headers=headers_too)


def test_answers_at_once_still_work(prom, scripted_server):
    scripted_server.reply(VECTOR)
    hook = prom(deadline=2)
    assert hook.query("up")[0]["value"] == 1.0
    assert asyncio.run(hook.aquery("up"))[0]["value"] == 1.0


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_trickling_query_fails_within_the_deadline(prom, scripted_server, headers_too):
    trickle(scripted_server, headers_too)
    hook = prom(deadline=1.5)
    started = time.monotonic()
    with pytest.raises(PrometheusUnreachableError, match=r"within the 1.5 s deadline .*connection extra 'deadline'"):
        hook.query("up")
    assert time.monotonic() - started < 3.5


def test_trickling_api_and_range_requests_fail_within_the_deadline(prom, scripted_server):
    trickle(scripted_server)
    hook = prom(deadline=1)
    for call in (lambda: hook._api("status/buildinfo"), lambda: hook.query_range("up", 0, 60, 15)):
        started = time.monotonic()
        with pytest.raises(PrometheusUnreachableError, match=r"within the 1 s deadline"):
            call()
        assert time.monotonic() - started < 3


def test_trickling_async_query_fails_within_the_deadline(prom, scripted_server):
    trickle(scripted_server)
    hook = prom(deadline=1)
    started = time.monotonic()
    with pytest.raises(PrometheusUnreachableError, match=r"within the 1 s deadline"):
        asyncio.run(hook.aquery("up"))
    assert time.monotonic() - started < 3


def test_deadline_from_wecube_config(prom, scripted_server, monkeypatch):
    trickle(scripted_server)
    monkeypatch.setenv("AIRFLOW__WECUBE__HTTP_DEADLINE", "1")
    started = time.monotonic()
    with pytest.raises(PrometheusUnreachableError, match=r"within the 1 s deadline"):
        prom().query("up")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "read-to-close"])
def test_answer_larger_than_the_cap_is_refused(prom, scripted_server, announced):
    big = dict(VECTOR, padding="x" * 200_000)
    scripted_server.reply(big, content_length=announced)
    hook = prom(max_response_bytes=100_000)
    with pytest.raises(
        PrometheusError, match=r"more than the 100000 bytes allowed; raise connection extra 'max_response_bytes'"
    ):
        hook.query("up")
    with pytest.raises(PrometheusError, match=r"larger than the 100000 bytes allowed"):
        asyncio.run(hook.aquery("up"))
