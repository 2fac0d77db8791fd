"""The sandbox's shipped register.xml files load, and declare exactly what the server serves."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from airflow_wecube.registry.xml import load_register_xml
from airflow_wecube.sandbox import create_app, manifest_paths, manifests_dir
from airflow_wecube.sandbox.plugin import SandboxPackage
from airflow_wecube.sandbox.plugins import PACKAGES
from airflow_wecube.sandbox.store import Store

SANDBOX_ROUTES = {"/health", "/sandbox/calls", "/sandbox/services", "/sandbox/answers", "/sandbox/outages"}
#: pages and APIs a package serves beside its interfaces (not plugin interfaces, not in a manifest)
EXTRA_ROUTE_PREFIXES = ("/taskman/inbox", "/cmdb/data-model", "/cmdb/entities/")


def _manifests():
    return {p.name: load_register_xml(p.read_bytes(), source=str(p)) for p in manifest_paths()}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(tmp_path_factory.mktemp("sandbox-app") / "sandbox.db", "unit-token")


def test_manifests_ship_in_the_package():
    assert manifests_dir().is_dir()
    assert [p.name for p in manifest_paths()] == [f"{n}.register.xml" for n in sorted(PACKAGES)]
    assert sorted(PACKAGES) == ["cmdb", "deploy", "faults", "host", "network", "taskman"]


def test_each_manifest_loads_with_a_concrete_version():
    loaded = {pkg.name: pkg for pkg in _manifests().values()}
    assert set(loaded) == {"cmdb", "deploy", "faults", "host", "network", "taskman"}
    for pkg in loaded.values():
        assert pkg.version == "1.0.0"
        assert pkg.warnings() == []
    assert set(loaded["cmdb"].services()) == {
        "cmdb/ci/create",
        "cmdb/ci/delete",
        "cmdb/ci/query",
        "cmdb/ci/update",
        "cmdb/credential/set",
    }
    network = {
        f"network/{p}/{a}" for p in ("subnet", "route-table", "security-group") for a in ("create", "query", "delete")
    }
    assert set(loaded["network"].services()) == network | {"network/vpc/create", "network/vpc/query"}
    assert "deploy/app/query" in loaded["deploy"].services()
    assert set(loaded["faults"].services()) == {
        f"faults/fault/{a}"
        for a in (
            "echo",
            "delay",
            "flaky",
            "invalid-json",
            "not-protocol",
            "result-code-1",
            "entity-errors",
            "quiet-entity-errors",
        )
    }


def test_sensitive_parameters_are_declared():
    services = {name: s for pkg in _manifests().values() for name, s in pkg.services().items()}
    assert services["cmdb/credential/set"].interface.sensitive_inputs == {"password"}
    assert services["faults/fault/echo"].interface.sensitive_inputs == {"token"}
    echo_outputs = {p.name for p in services["faults/fault/echo"].interface.outputs}
    assert "token" not in echo_outputs
    required = {p.name for p in services["cmdb/ci/create"].interface.inputs if p.required}
    assert required == {"type", "name"}


def test_manifest_paths_are_exactly_the_app_routes(app):
    declared = {(s.method, s.path): name for pkg in _manifests().values() for name, s in pkg.services().items()}
    served = {
        (method, route.path): route.name
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.path not in SANDBOX_ROUTES
        and not route.path.startswith(EXTRA_ROUTE_PREFIXES)
        for method in route.methods
    }
    assert served == declared
    assert app.state.services == {name: path for (_, path), name in declared.items()}


def test_a_served_interface_missing_from_the_manifest_is_refused(tmp_path):
    manifest = _manifests()["faults.register.xml"]
    rogue = SandboxPackage("faults")
    rogue.plugin("fault").entity("explode")(lambda entity, call: {})
    with pytest.raises(RuntimeError, match="faults/fault/explode but faults's register.xml does not declare it"):
        rogue.router(Store(tmp_path / "db.sqlite"), "t", manifest)


def test_a_served_interface_at_another_path_is_refused(tmp_path):
    manifest = _manifests()["faults.register.xml"]
    moved = SandboxPackage("faults")
    moved.plugin("fault").entity("echo", path="/faults/v2/fault/echo")(lambda entity, call: {})
    with pytest.raises(
        RuntimeError, match="at POST /faults/v2/fault/echo but register.xml says POST /faults/v1/fault/echo"
    ):
        moved.router(Store(tmp_path / "db.sqlite"), "t", manifest)


def test_an_empty_token_is_refused(tmp_path):
    with pytest.raises(ValueError, match="non-empty token"):
        create_app(tmp_path / "db.sqlite", "")
