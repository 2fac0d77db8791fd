"""The expression grammar: the real exports' routines, filters, references, quoting, errors with a caret."""

from __future__ import annotations

import re

import pytest

from airflow_wecube.datamodel.expression import Expression, ExpressionError, Filter, Hop, Quoted, parse


def _routines(export: dict) -> list[str]:
    return [export["rootEntity"]] + [n["routineExpression"] for n in export["taskNodeInfos"] if n["routineExpression"]]


def test_every_routine_of_the_real_exports_parses_and_round_trips(procdef_exports):
    seen = 0
    for name, export in procdef_exports.items():
        for text in _routines(export):
            expr = parse(text)
            assert str(expr) == text, name
            assert expr.first.name == parse(export["rootEntity"]).first.name, (name, text)
            seen += 1
    assert len(procdef_exports) == 6
    assert seen >= 98  # 6 root entities and 92 task routines


def test_the_real_exports_use_the_whole_grammar(procdef_exports):
    """Backward and forward references, filters on middle hops, reference values, up to 5 hops."""
    exprs = [parse(t) for e in procdef_exports.values() for t in _routines(e)]
    vias = {h.via[0] for e in exprs for h in e.hops if h.via}
    assert vias == {"forward", "backward"}
    assert max(len(e.hops) for e in exprs) == 5
    ops = {f.op for e in exprs for h in e.hops for f in h.filters}
    assert ops == {"eq", "in"}
    refs = [
        f.value
        for e in exprs
        for h in e.hops
        for f in h.filters
        if isinstance(f.value, Quoted) and "@@" in f.value.text
    ]
    assert refs and all(re.fullmatch(r"\d{4}_\d{10}", q.condition) for q in refs)


def test_mapping_expressions_of_the_real_manifests(procdef_plugins):
    """Every mappingEntityExpression parses and round-trips, but one typo that WeCube shipped
    (``cache.resource_instance``: a dot in an entity name), refused with a caret under it."""
    texts = {t for f in procdef_plugins for t in re.findall(r'mappingEntityExpression="([^"]+)"', f.read_text())}
    bad = []
    for text in texts:
        try:
            assert str(parse(text)) == text
        except ExpressionError as e:
            bad.append(e)
    assert len(texts) > 100
    assert [e.expression for e in bad] == [
        "wecmdb:unit~(unit)wecmdb:cache_instance.cache.resource_instance>wecmdb:cache.resource_instance.monitor_key_name"
    ]
    assert bad[0].column == 45


def test_hops_references_and_trailing_attribute():
    expr = parse("wecmdb:app_system{code eq 'UM'}~(app_system)wecmdb:unit.host>wecmdb:host.ip")
    assert expr == Expression(
        (
            Hop("wecmdb", "app_system", (Filter("code", "eq", Quoted("UM")),)),
            Hop("wecmdb", "unit", (), ("backward", "app_system")),
            Hop("wecmdb", "host", (), ("forward", "host")),
        ),
        "ip",
    )
    assert expr.target() == Expression(expr.hops)
    assert str(expr.target()) == "wecmdb:app_system{code eq 'UM'}~(app_system)wecmdb:unit.host>wecmdb:host"


def test_a_single_hop_and_packages_with_dashes():
    assert parse("service-mgmt:task") == Expression((Hop("service-mgmt", "task"),))
    assert parse("wecube-monitor:alarm.id").attr == "id"


@pytest.mark.parametrize(
    ("text", "op", "condition"),
    [
        ("a:b{x eq 'v'}", "eq", "v"),
        ("a:b{x neq 'v'}", "neq", "v"),
        ("a:b{x in ['p','q']}", "in", ["p", "q"]),
        ("a:b{x in []}", "in", []),
        ("a:b{x like 'v'}", "like", "v"),
        ("a:b{x notLike 'v'}", "notLike", "v"),
        ("a:b{x gt 10}", "gt", 10),
        ("a:b{x lt 2.5}", "lt", 2.5),
        ("a:b{x is NULL}", "is", None),
        ("a:b{x isnot NULL}", "isnot", None),
        ("a:b{x eq '@@0054_0000000001@@华为云对等连接'}", "eq", "0054_0000000001"),
        ("a:b{x in ['@@0002_0000000011@@MYSQL','plain']}", "in", ["0002_0000000011", "plain"]),
    ],
)
def test_filters(text, op, condition):
    expr = parse(text)
    (f,) = expr.first.filters
    assert f.to_api() == {"attrName": "x", "op": op, "condition": condition}
    assert str(expr) == text


def test_several_filters_on_one_hop():
    expr = parse("wecmdb:app_instance{state_code eq 'created'}{fixed_date is NULL}.port")
    assert [f.op for f in expr.first.filters] == ["eq", "is"]
    assert expr.attr == "port"


def test_quoted_text_holds_the_grammar_s_characters():
    text = "a:b{x eq 'a.b>c~(d){e}'}~(x)a:c{y like 'it''s'}.z"
    expr = parse(text)
    assert expr.first.filters[0].value == Quoted("a.b>c~(d){e}")
    assert expr.hops[1].filters[0].to_api()["condition"] == "it's"
    assert str(expr) == text


def test_spaces_inside_a_filter_are_allowed_and_normalised():
    assert str(parse("a:b{ x  in [ 'p' , 'q' ] }")) == "a:b{x in ['p','q']}"


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("", 0, "found an empty expression"),
        ("wecmdb", 6, "expected ':' after package 'wecmdb'"),
        ("wecmdb:", 7, "expected an entity name after 'wecmdb:', found the end"),
        ("wecmdb:unit{code eqq 'x'}", 17, "unknown operator 'eqq'"),
        ("wecmdb:unit{code EQ 'x'}", 17, "did you mean eq?"),
        ("wecmdb:unit{code eq 'x}", 20, "expected a closing quote"),
        ("wecmdb:unit{code eq 'x'", 23, "expected '}' closing the filter, found the end"),
        ("wecmdb:unit{code eq x}", 20, "expected a value"),
        ("wecmdb:unit{code in 'x'}", 20, "expected a list ['a','b'] after 'in'"),
        ("wecmdb:unit{code is 'x'}", 20, "expected NULL after 'is'"),
        ("wecmdb:unit{code in ['a' 'b']}", 25, "expected ',' or ']' in the list"),
        ("wecmdb:unit~unit", 12, "expected '(' after '~'"),
        ("wecmdb:unit~(unit wecmdb:host", 17, "expected ')' closing ~(unit"),
        ("wecmdb:unit.host.ip", 16, "expected '>' (a forward reference .host>pkg:entity)"),
        ("wecmdb:unit.>wecmdb:host", 12, "expected an attribute name after '.'"),
        ("wecmdb:unit>wecmdb:host", 11, "expected '.attr>' (forward)"),
        ("wecmdb:unit.host>", 17, "expected a package name"),
    ],
)
def test_errors_show_the_column_with_a_caret(text, column, expected):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    e = caught.value
    assert expected in e.message
    assert e.column == column
    lines = str(e).splitlines()
    assert lines[0].endswith(f"at column {column + 1}")
    assert lines[1] == f"  {text}"
    assert lines[2] == "  " + " " * column + "^"


def test_not_text_is_refused():
    with pytest.raises(TypeError, match="an expression is text"):
        parse(None)
