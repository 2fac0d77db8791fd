"""Reading Prometheus's answers: range bodies, instant results and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from airflow_wecube.prometheus.errors import PrometheusError, PrometheusQueryError
from airflow_wecube.prometheus.results import api_data, decode_range, instant_result


def _range_body(*series) -> bytes:
    return json.dumps(
        {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": m, "values": v} for m, v in series]},
        }
    ).encode()


def test_range_body_values_parse_special_floats_and_exact_timestamps():
    body = _range_body(
        (
            {"__name__": "m", "b": "2", "a": "1"},
            [
                [1700000000, "1.5"],
                [1700000000.25, "NaN"],
                [1700000015, "+Inf"],
                [1700000030, "-Inf"],
                [1700000045, "1e+06"],
                [1700000060, "-0"],
            ],
        ),
        ({}, []),  # a series with no samples in this chunk is left out
    )
    [(name, ts, vals)] = decode_range(body, "m")
    assert name == 'm{a="1",b="2"}'
    assert ts.dtype == np.int64
    assert ts.tolist() == [1700000000000, 1700000000250, 1700000015000, 1700000030000, 1700000045000, 1700000060000]
    assert vals.dtype == np.float64 and np.isnan(vals[1])
    assert [vals[0], *vals[2:]] == [1.5, np.inf, -np.inf, 1e6, 0.0]


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"<html>proxy login</html>", PrometheusError, r"unexpected body .*proxy login"),
        (
            b'{"status": "success", "data": {"result": [{"metric": {}, "values": [[1, 2]]}]}}',
            PrometheusError,
            "unexpected body",
        ),
        (
            b'{"status": "error", "errorType": "timeout", "error": "query timed out"}',
            PrometheusError,
            r"HTTP 200, timeout\): query timed out",
        ),
    ],
)
def test_range_body_that_is_not_a_matrix_is_refused(body, error, message):
    with pytest.raises(error, match=message):
        decode_range(body, "m")


def test_instant_refusal_is_read_from_the_status_and_json_body():
    body = b'{"status": "error", "errorType": "bad_data", "error": "parse error: unexpected end of input"}'
    with pytest.raises(PrometheusQueryError, match=r"refused query 'up\(' \(HTTP 400, bad_data\): parse error") as err:
        instant_result(400, body, "up(")
    assert (err.value.status_code, err.value.error_type) == (400, "bad_data")
    with pytest.raises(PrometheusError, match=r"HTTP 502\): <html>bad gateway</html>") as err:
        instant_result(502, b"<html>bad gateway</html>", "up")
    assert type(err.value) is PrometheusError and err.value.status_code == 502


def test_instant_result_scalar_and_vector():
    scalar = b'{"status": "success", "data": {"resultType": "scalar", "result": [1700000000.5, "2"]}}'
    assert instant_result(200, scalar, "2") == [{"labels": {}, "value": 2.0, "timestamp": 1700000000.5}]
    vector = json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"a": "1"}, "value": [1, "NaN"]}]}}
    ).encode()
    [series] = instant_result(200, vector, "m")
    assert series["labels"] == {"a": "1"} and np.isnan(series["value"])


def test_api_error_names_the_path_and_prometheus_message():
    with pytest.raises(PrometheusError, match=r"/api/v1/rules answered HTTP 503: service unavailable") as err:
        api_data(503, b'{"status": "error", "errorType": "unavailable", "error": "service unavailable"}', "rules")
    assert err.value.error_type == "unavailable"
    assert api_data(200, b'{"status": "success", "data": {"groups": []}}', "rules") == {"groups": []}
