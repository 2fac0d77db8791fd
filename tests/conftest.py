"""Shared pytest setup. Server fixtures live in tests/fixtures/ (session scope: one server per run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.paths import CORPUS, E2E, corpus_missing

pytest_plugins = [
    "tests.fixtures.airflow_home",
    "tests.fixtures.sandbox",
    "tests.fixtures.alertmanager",
    "tests.fixtures.prometheus",
    "tests.fixtures.standalone",
    "tests.fixtures.scripted_http",
    "tests.fixtures.rest_server",
    "tests.fixtures.browser",
    "tests.fixtures.process_exports",
    "tests.fixtures.ui_app",
]


@pytest.fixture(scope="session")
def wecube_fixtures() -> Path:
    """The corpus of real WeCube manifests (read only); see README "Run the tests"."""
    if not (CORPUS.is_dir() and any(CORPUS.glob("*.register.xml"))):
        corpus_missing(
            f"the corpus of real WeCube manifests is not at {CORPUS} "
            "(set WECUBE_CORPUS_DIR to the folder holding *.register.xml)"
        )
    return CORPUS


@pytest.fixture(scope="session")
def plugin_registry():
    """The session's plugin registry ($WECUBE_REGISTRY_PATH) with the sandbox plugins registered."""
    from airflow_wecube.registry import Registry, load_manifest
    from airflow_wecube.sandbox import manifest_paths

    registry = Registry(os.environ["WECUBE_REGISTRY_PATH"])
    for path in manifest_paths():
        registry.register(load_manifest(path), replace=True)
    return registry


def pytest_ignore_collect(collection_path, config):
    """tests/e2e/cluster runs on `make cluster` (`make test-cluster`, pytest -m cluster), not in `make test`."""
    if collection_path.name == "cluster" and collection_path.parent.name == "e2e":
        return "cluster" not in (config.getoption("markexpr") or "") or None
    return None


# `make test` runs `pytest -n 3 --dist loadgroup`: the tests under tests/e2e are in two xdist groups,
# each run by one worker, in collection order, under that worker's own session `airflow standalone`,
# sandbox, Prometheus and Alertmanager (mostly waiting on them): tests/e2e/orchestrations with the
# folders that drive the same wired standalone after it (reconcile, remediation) in one, the rest of
# tests/e2e (the demo, approvals, async plugins, ...) in the other: about 16 and 15 minutes. The third
# worker runs the CPU-bound unit and integration tests, then every worker takes over what is left. A
# folder's tests stay together (its conftest's module fixtures and the order its tests rely on).
E2E_GROUP = "e2e"
#: folders under tests/e2e run by the worker of the orchestrations group, in this order
ORCHESTRATIONS_WORKER = ("orchestrations", "reconcile", "remediation")


def e2e_group(path: Path) -> str | None:
    """The xdist group of a test file: None outside tests/e2e."""
    if not path.is_relative_to(E2E):
        return None
    top = path.relative_to(E2E).parts[0]
    return f"{E2E_GROUP}-orchestrations" if top in ORCHESTRATIONS_WORKER else E2E_GROUP


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests under tests/e2e with their ``xdist_group`` (tryfirst: xdist reads the mark in its
    own hook of this name)."""
    if not config.pluginmanager.hasplugin("xdist"):  # -p no:xdist: no such marker registered
        return
    for item in items:
        group = e2e_group(item.path)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` that also groups by path: pytest-xdist 3.8 puts an item's group in its node id
    (``...@e2e``), which pytest 9.2's node ids ignore, so the marks alone no longer group anything
    (pytest-dev/pytest-xdist#1386). The controller sees only node ids: the group comes from the path."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    root = config.rootpath

    class E2EGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            if scope != nodeid:
                return scope
            return e2e_group(root / nodeid.split("::", 1)[0]) or scope

    return E2EGroupScheduling(config, log)
