"""Command line of ``python -m airflow_wecube.sandbox``."""

from __future__ import annotations

from pathlib import Path

from airflow_wecube.sandbox import DEFAULT_PORT, DEFAULT_TOKEN
from airflow_wecube.sandbox.__main__ import main, parse_args


def test_defaults(monkeypatch):
    monkeypatch.delenv("WECUBE_SANDBOX_TOKEN", raising=False)
    args = parse_args([])
    assert (args.host, args.port, args.db, args.token) == ("127.0.0.1", DEFAULT_PORT, None, DEFAULT_TOKEN)


def test_token_from_environment_unless_given(monkeypatch):
    monkeypatch.setenv("WECUBE_SANDBOX_TOKEN", "from-env")
    assert parse_args([]).token == "from-env"
    args = parse_args(["--token", "from-flag", "--port", "1234", "--db", "/tmp/x.db"])
    assert (args.token, args.port, args.db) == ("from-flag", 1234, Path("/tmp/x.db"))


def test_an_empty_token_is_refused(capsys):
    assert main(["--token", ""]) == 2
    assert "token must not be empty" in capsys.readouterr().err
