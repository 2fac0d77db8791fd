"""Matchers as DAG authors write them, turned into Alertmanager's filter strings and silence matchers."""

from __future__ import annotations

import pytest

from airflow_wecube.alertmanager.errors import AlertmanagerConfigError
from airflow_wecube.alertmanager.matchers import matcher_strings, silence_matchers


def test_mapping_is_equality_matchers_with_values_quoted():
    assert matcher_strings({"alertname": "Down", "instance": 'a"b\\c'}) == [
        'alertname="Down"',
        'instance="a\\"b\\\\c"',
    ]
    assert matcher_strings(None) == []


def test_strings_keep_their_operator():
    assert matcher_strings(['job!="x"', ' instance =~ "10\\\\..*" ', 'a!~"b"', 'c="d"']) == [
        'job!="x"',
        'instance=~"10\\\\..*"',
        'a!~"b"',
        'c="d"',
    ]
    assert matcher_strings('alertname="X"') == ['alertname="X"']


def test_silence_matchers_flags():
    assert silence_matchers(['a="1"', 'b!="2"', 'c=~"3"', 'd!~"4"']) == [
        {"name": "a", "value": "1", "isEqual": True, "isRegex": False},
        {"name": "b", "value": "2", "isEqual": False, "isRegex": False},
        {"name": "c", "value": "3", "isEqual": True, "isRegex": True},
        {"name": "d", "value": "4", "isEqual": False, "isRegex": True},
    ]


def test_every_bad_matcher_is_named_at_once():
    with pytest.raises(AlertmanagerConfigError) as e:
        matcher_strings(["alertname", 'in-stance="x"', 're=~"("'])
    text = str(e.value)
    assert "'alertname' is not name=" in text and "'in-stance=\"x\"'" in text and "not a regular expression" in text
    with pytest.raises(AlertmanagerConfigError, match="'1x' is not a valid label name"):
        matcher_strings({"1x": "v"})
    with pytest.raises(AlertmanagerConfigError, match="value must be a string"):
        matcher_strings({"a": 1})
    with pytest.raises(AlertmanagerConfigError, match="at least one matcher"):
        silence_matchers([])
