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


@pytest.fixture(scope="session")
def plugin_registry():
    """The session's plugin registry ($WECUBE_REGISTRY_PATH) with the sandbox plugins registered."""
    import os

    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(os.environ["WECUBE_REGISTRY_PATH"])
    for path in manifest_paths():
        registry.register(load_manifest(path), replace=True)
    return registry
