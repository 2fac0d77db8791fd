"""Shared pytest setup. Server fixtures live in tests/fixtures/ (session scope: one server per run)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"

pytest_plugins = [
    "tests.fixtures.airflow_home",
    "tests.fixtures.sandbox",
    "tests.fixtures.prometheus",
    "tests.fixtures.standalone",
]


@pytest.fixture(scope="session")
def wecube_fixtures() -> Path:
    """The real WeCube manifests in ../shared/fixtures/wecube (read only)."""
    path = FIXTURES / "wecube"
    assert path.is_dir(), f"shared fixtures missing at {path}"
    return path
