"""Input helpers of the sandbox's shared protocol code."""

from __future__ import annotations

import pytest

from airflow_wecube.sandbox.plugin import EntityError, array, flag, integer, obj, text


@pytest.mark.parametrize(("value", "expected"), [("Y", True), ("n", False), (True, True), ("true", True), (None, False), (0, False)])
def test_flag(value, expected):
    assert flag({"x": value}, "x") is expected


def test_flag_refuses_other_words():
    with pytest.raises(EntityError, match="input x must be Y or N, got 'maybe'"):
        flag({"x": "maybe"}, "x")


def test_integer():
    assert integer({"n": "3"}, "n") == 3
    assert integer({"n": 4}, "n") == 4
    assert integer({}, "n", default=7) == 7
    for bad in ("three", True, "1.5"):
        with pytest.raises(EntityError, match="input n must be an integer"):
            integer({"n": bad}, "n")


def test_obj_accepts_objects_and_json_strings():
    assert obj({"a": {"k": 1}}, "a") == {"k": 1}
    assert obj({"a": '{"k": 1}'}, "a") == {"k": 1}
    assert obj({}, "a") == {}
    with pytest.raises(EntityError, match="input a must be an object, got list"):
        obj({"a": [1]}, "a")
    with pytest.raises(EntityError, match="not JSON"):
        obj({"a": "{oops"}, "a")


def test_array_accepts_lists_and_json_strings():
    assert array({"a": [1, {"k": 2}]}, "a") == [1, {"k": 2}]
    assert array({"a": '[1, "x"]'}, "a") == [1, "x"]
    assert array({"a": ""}, "a") == [] and array({}, "a") == []
    with pytest.raises(EntityError, match="input a must be a list, got dict"):
        array({"a": '{"k": 1}'}, "a")
    with pytest.raises(EntityError, match="input a must be a list, got a string that is not JSON"):
        array({"a": "[oops"}, "a")


def test_text_refuses_containers():
    assert text({"s": 5}, "s") == "5"
    with pytest.raises(EntityError, match="input s must be a string, got dict"):
        text({"s": {}}, "s")
