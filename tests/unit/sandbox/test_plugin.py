"""Input helpers of the sandbox's shared protocol code."""

from __future__ import annotations

import sqlite3

import pytest

from airflow_wecube.sandbox.plugin import (
    EntityError,
    array,
    find_by_ref,
    flag,
    integer,
    lookup,
    name_input,
    obj,
    text,
)


@pytest.mark.parametrize(
    ("value", "expected"), [("Y", True), ("n", False), (True, True), ("true", True), (None, False), (0, False)]
)
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


def test_name_input_admits_resource_names_only():
    assert name_input({"name": " web-1.a_b "}) == "web-1.a_b"
    assert name_input({"app": "shop"}, "app") == "shop"
    for bad in ("", "-web", "a b", "x" * 64, "web/1"):
        with pytest.raises(EntityError, match="input name must be 1-63 letters, digits"):
            name_input({"name": bad})


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.executescript(
        "CREATE TABLE t (guid TEXT, name TEXT, parent TEXT);"
        "CREATE TABLE p (guid TEXT, name TEXT);"
        "INSERT INTO p VALUES ('p1', 'top');"
        "INSERT INTO t VALUES ('g1', 'one', 'p1'), ('g2', 'g1', 'p1');"
    )
    return db


def test_lookup_by_guid_first_then_name():
    db = _db()
    assert lookup(db, "SELECT * FROM t", "g1")["name"] == "one"  # a guid wins over another row's name
    assert lookup(db, "SELECT * FROM t", "one")["guid"] == "g1"
    assert lookup(db, "SELECT * FROM t", "nothing") is None
    # with a join, the columns are the aliased table's
    joined = "SELECT t.*, p.name AS parent_name FROM t JOIN p ON p.guid = t.parent"
    row = lookup(db, joined, "one", alias="t")
    assert dict(row) == {"guid": "g1", "name": "one", "parent": "p1", "parent_name": "top"}


def test_find_by_ref_names_what_is_unknown():
    db = _db()
    assert find_by_ref(db, "SELECT * FROM t", "g2", "thing")["name"] == "g1"
    with pytest.raises(EntityError, match=r"^unknown thing 'x' \(give its guid or name\)$"):
        find_by_ref(db, "SELECT * FROM t", "x", "thing")
    with pytest.raises(EntityError, match=r"^unknown thing 'x' \(ask someone\)$"):
        find_by_ref(db, "SELECT * FROM t", "x", "thing", hint="ask someone")
