"""The safe subset of BPMN conditions: parsed by a small grammar, evaluated without eval."""

from __future__ import annotations

import pytest

from airflow_wecube.processes.conditions import ConditionError, evaluate, names, parse_condition


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${decision == 'approve'}", {"decision": "approve"}, True),
        ("${decision == 'approve'}", {"decision": "reject"}, False),
        ('${decision != "approve"}', {}, True),
        ("${count > 2 && ok}", {"count": 3, "ok": True}, True),
        ("${count >= 3.5 || !ok}", {"count": 3, "ok": False}, True),
        ("${(a || b) && c}", {"a": False, "b": True, "c": True}, True),
        ("${a || b && c}", {"a": True, "b": False, "c": False}, True),
        ("${host.state == 'up'}", {"host": {"state": "up"}}, True),
        ("${missing == null}", {}, True),
        ("${n < 'x'}", {"n": 1}, False),  # no order between a number and text: false, not an error
        ("${flag == true}", {"flag": True}, True),
        ("${-1 <= n}", {"n": 0}, True),
        ("${it == 'it\\'s'}", {"it": "it's"}, True),
    ],
)
def test_evaluate(text, variables, expected):
    assert evaluate(parse_condition(text), variables) is expected


def test_names():
    assert names(parse_condition("${a == 1 && !b.c || d}")) == {"a", "b.c", "d"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("decision == 'x'", "is written"),
        ("${}", "empty"),
        ("${a == }", "ends too early"),
        ("${a = 1}", "unexpected"),
        ("${a + 1}", "unexpected"),
        ("${f(1)}", "calls"),
        ("${a and b}", "write &&"),
        ("${a == 1 b}", "unexpected 'b'"),
        ("${(a}", "ends too early"),
        ("${(a b}", "not closed"),
        ("${" + "a" * 600 + "}", "longer than 500"),
        ("${" + "!(" * 11 + "a" + ")" * 11 + "}", "nested deeper"),
    ],
)
def test_refused(text, message):
    with pytest.raises(ConditionError, match=message):
        parse_condition(text)
