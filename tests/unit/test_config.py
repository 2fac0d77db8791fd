"""Every ``[wecube]`` option is declared once in config.py, and the provider metadata is built from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_wecube import config
from airflow_wecube.config import OPTION_PREFIXES, OPTIONS, get
from airflow_wecube.get_provider_info import get_provider_info

SRC = Path(config.__file__).parent
#: ``airflow_option("x")``, ``get("x")``, ``config.get("x")``: every literal option name read in the code
READS = re.compile(r"""\b(?:airflow_option|config\.get|(?<![.\w])get)\(\s*f?["']([a-z_]+)["']""")


def _read_in_code() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        names |= set(READS.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_option_read_in_the_code_is_declared():
    read = _read_in_code()
    assert {"callback_base_url", "cmdb_types", "resume_settle_seconds", "registry_path"} <= read  # the scan works
    undeclared = {n for n in read if n not in OPTIONS and not n.startswith(OPTION_PREFIXES)}
    assert not undeclared, f"declare these in airflow_wecube.config.OPTIONS: {sorted(undeclared)}"


def test_provider_metadata_lists_every_declared_option():
    options = get_provider_info()["config"]["wecube"]["options"]
    assert list(options) == list(OPTIONS)
    for name in (
        "callback_base_url",
        "callback_poll_seconds",
        "callback_retention_days",
        "cmdb_query_service",
        "cmdb_types",
        "network_design",
    ):
        assert options[name]["description"] and options[name]["type"] == OPTIONS[name].type
    for opt in OPTIONS.values():  # a default must pass its own check
        if opt.default is not None:
            opt.check(opt.default)


def test_get_types_defaults_and_checks(monkeypatch):
    for name in OPTIONS:
        monkeypatch.delenv(f"AIRFLOW__WECUBE__{name.upper()}", raising=False)
    assert get("callback_poll_seconds") == 2.0
    assert get("http_max_response_bytes") == 64 * 1024 * 1024
    assert get("cmdb_types")[:2] == ["data_center", "vpc"]
    assert get("network_design") is None
    monkeypatch.setenv("AIRFLOW__WECUBE__CMDB_TYPES", " host , app ")
    assert get("cmdb_types") == ["host", "app"]
    monkeypatch.setenv("AIRFLOW__WECUBE__CALLBACK_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match=r"\[wecube\] callback_retention_days must be >= 0, got '-1' \(set AIRFLOW__"):
        get("callback_retention_days")
    monkeypatch.setenv("AIRFLOW__WECUBE__CALLBACK_POLL_SECONDS", "often")
    with pytest.raises(ValueError, match="callback_poll_seconds must be a number of seconds, got 'often'"):
        get("callback_poll_seconds")
    with pytest.raises(KeyError):
        get("no_such_option")
