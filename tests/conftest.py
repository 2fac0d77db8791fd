"""Shared pytest setup. Server fixtures live in tests/fixtures/ (session scope: one server per run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The real WeCube manifests are a corpus kept beside the repository, not in it. Tests that need it
# skip when it is absent, unless WECUBE_REQUIRE_CORPUS=1 (CI) turns the skip into a failure.
CORPUS = Path(os.environ.get("WECUBE_CORPUS_DIR") or REPO.parent / "shared" / "fixtures" / "wecube")

pytest_plugins = [
    "tests.fixtures.airflow_home",
    "tests.fixtures.sandbox",
    "tests.fixtures.alertmanager",
    "tests.fixtures.prometheus",
    "tests.fixtures.standalone",
    "tests.fixtures.scripted_http",
    "tests.fixtures.rest_server",
    "tests.fixtures.browser",
]


@pytest.fixture(scope="session")
def wecube_fixtures() -> Path:
    """The corpus of real WeCube manifests (read only); see README "Run the tests"."""
    if CORPUS.is_dir() and any(CORPUS.glob("*.register.xml")):
        return CORPUS
    reason = (
        f"the corpus of real WeCube manifests is not at {CORPUS} "
        "(set WECUBE_CORPUS_DIR to the folder holding *.register.xml)"
    )
    if os.environ.get("WECUBE_REQUIRE_CORPUS") == "1":
        pytest.fail(reason + "; WECUBE_REQUIRE_CORPUS=1 makes it mandatory", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def plugin_registry():
    """The session's plugin registry ($WECUBE_REGISTRY_PATH) with the sandbox plugins registered."""
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(os.environ["WECUBE_REGISTRY_PATH"])
    for path in manifest_paths():
        registry.register(load_manifest(path), replace=True)
    return registry
