"""Fixtures of the process tests: the real WeCube v2 exports and the plugin manifests they call."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import CORPUS

DATA = Path(__file__).parent / "data"
#: the six WeCube v2 exports and their 2020 manifests, beside the manifest corpus (read only)
PROCDEF = Path(os.environ.get("WECUBE_PROCDEF_DIR") or CORPUS.parent / "wecube-procdef")


@pytest.fixture(scope="session")
def procdef_corpus() -> Path:
    """../shared/fixtures/wecube-procdef; skipped when absent unless WECUBE_REQUIRE_CORPUS=1."""
    if PROCDEF.is_dir() and any(PROCDEF.glob("*.pds")):
        return PROCDEF
    reason = f"the WeCube process exports are not at {PROCDEF} (set WECUBE_PROCDEF_DIR to the folder holding *.pds)"
    if os.environ.get("WECUBE_REQUIRE_CORPUS") == "1":
        pytest.fail(reason + "; WECUBE_REQUIRE_CORPUS=1 makes it mandatory", pytrace=False)
    pytest.skip(reason)


def manifest_version(path: Path) -> str:
    """``wecmdb.2020-04-13.register.xml`` -> ``2020-04-13`` (several files share one declared version)."""
    return re.search(r"\.(\d{4}-\d\d-\d\d)\.register\.xml$", path.name)[1]


@pytest.fixture(scope="session")
def procdef_registry(procdef_corpus, tmp_path_factory):
    """A plugin registry holding the eleven 2020 manifests, each registered under its file's date."""
    from airflow_wecube.registry import Registry, load_manifest

    registry = Registry(tmp_path_factory.mktemp("procdef-registry"))
    for path in sorted((procdef_corpus / "plugins").glob("*.register.xml")):
        registry.register(load_manifest(path, version=manifest_version(path)))
    return registry


@pytest.fixture(scope="session")
def sandbox_registry(tmp_path_factory):
    """A plugin registry holding the sandbox plugins (the services the test processes call)."""
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(tmp_path_factory.mktemp("sandbox-registry"))
    for path in manifest_paths():
        registry.register(load_manifest(path))
    return registry
