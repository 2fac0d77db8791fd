"""The sensor's condition language (pure)."""

from __future__ import annotations

import math

import pytest

from airflow_wecube.prometheus.conditions import jsonable_series, parse_condition


def s(value, **labels):
    return {"labels": {"__name__": "up", **labels}, "value": value}


@pytest.mark.parametrize(
    ("condition", "series", "ok"),
    [
        ("== 1", [s(1.0, instance="a"), s(1.0, instance="b")], True),
        ("== 1", [s(1.0, instance="a"), s(0.0, instance="b")], False),
        ("== 1", [], False),  # an empty result never opens an 'all' gate
        ("< 0.01", [s(0.001)], True),
        ("< 0.01", [s(0.01)], False),
        ("any > 0", [s(0.0), s(2.0)], True),
        ("any > 0", [s(0.0), s(0.0)], False),
        ("count >= 3", [s(0.0)] * 3, True),
        ("count >= 3", [s(0.0)] * 2, False),
        ("count == 0", [], True),
        ("all == 1 and count >= 2", [s(1.0), s(1.0)], True),
        ("all == 1 and count >= 2", [s(1.0)], False),
        ("ALL >= 1e3", [s(1000.0)], True),
        ("!= 0", [s(math.nan)], False),  # NaN never passes
        ("> 0", [s(math.inf)], True),
    ],
)
def test_evaluate(condition, series, ok):
    assert parse_condition(condition).evaluate(series).ok is ok


def test_failing_series_are_named():
    result = parse_condition("== 1").evaluate([s(1.0, instance="a"), s(0.0, instance="b:9")])
    assert not result.ok
    assert [f["labels"]["instance"] for f in result.failing] == ["b:9"]
    text = result.describe()
    assert 'instance="b:9"' in text and "1 of 2 series fail" in text and "= 0.0" in text


@pytest.mark.parametrize(
    "bad", ["", "  ", "== ", "1", "=> 1", "count >= 1.5", "count > -1", "most == 1", "== 1 or == 2", "== NaN", None, 3]
)
def test_bad_conditions_are_refused_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="condition"):
        parse_condition(bad)


def test_jsonable_series_replaces_non_finite_values():
    out = jsonable_series(
        [{"labels": {"a": "b"}, "value": math.nan, "timestamp": 1.0, "values": [(1, 2)]}, s(math.inf)]
    )
    assert out[0] == {"labels": {"a": "b"}, "value": "NaN", "timestamp": 1.0}
    assert out[1]["value"] == "+Inf"
