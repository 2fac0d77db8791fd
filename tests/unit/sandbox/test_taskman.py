"""The sandbox taskman plugin's manifest, input parsing and delivery settings (no server)."""

from __future__ import annotations

import pytest

from airflow_wecube.registry.xml import load_register_xml
from airflow_wecube.sandbox import manifests_dir
from airflow_wecube.sandbox.plugin import EntityError
from airflow_wecube.sandbox.plugins.taskman import allowed_options, due_date
from airflow_wecube.sandbox.plugins.taskman_delivery import DeliverySettings, resolve_url
from airflow_wecube.sandbox.plugins.taskman_tasks import rejecting_option

SERVED = ("taskman/task/create-by-template", "taskman/task/create-custom")


def _sandbox_manifest():
    path = manifests_dir() / "taskman.register.xml"
    return load_register_xml(path.read_bytes(), source=str(path))


def _shape(interface):
    """What a caller relies on: path, method, async, type, and each parameter's mapping."""
    params = [
        (p.name, p.datatype, p.required, p.mapping_type, p.mapping_system_variable_name)
        for p in (*interface.inputs, *interface.outputs)
    ]
    return interface.path, interface.http_method, interface.is_async, interface.type, params


def test_sandbox_manifest_declares_taskman_interfaces_as_the_real_one_does(wecube_fixtures):
    """Same paths, parameters, mapping types and isAsyncProcessing as WeCube's taskman register.xml."""
    path = wecube_fixtures / "taskman.register.xml"
    real = load_register_xml(path.read_bytes(), source=str(path), version="1.5.0").services()
    ours = _sandbox_manifest().services()
    assert set(ours) == set(SERVED)
    for name in SERVED:
        assert _shape(ours[name].interface) == _shape(real[name].interface), name


def test_registry_keeps_mapping_types_and_async():
    services = _sandbox_manifest().services()
    custom = services["taskman/task/create-custom"].interface
    assert custom.is_async and custom.type == "APPROVAL"
    assert services["taskman/task/create-by-template"].interface.type == "DYNAMICFORM"
    mapping = {p.name: (p.mapping_type, p.mapping_system_variable_name) for p in custom.inputs}
    assert mapping["callbackUrl"] == ("system_variable", "CALLBACK_URL")
    assert mapping["procInstId"] == ("context", None)
    assert mapping["taskName"] == ("constant", None)
    required = {p.name for p in custom.inputs if p.required}
    assert required == {"callbackUrl", "taskName", "roleName", "reporter", "procInstId"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("", []),
        (["approve", " reject ", "", "approve"], ["approve", "reject"]),
        ('["yes", "no"]', ["yes", "no"]),
        ("Approve, Deny", ["Approve", "Deny"]),
        ([1, 2], ["1", "2"]),
    ],
)
def test_allowed_options_are_read_as_taskman_keeps_them(value, expected):
    assert allowed_options(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": 1}, "must be a list of strings, got dict"),
        ("[1,", "not a JSON list"),
        ([["x"]], "got an item"),
        ([True], "got an item"),
        (["a,b"], "contains a comma"),
        ([f"o{i}" for i in range(21)], "at most 20"),
        (["x" * 101], "longer than 100"),
    ],
)
def test_bad_allowed_options_are_refused(value, message):
    with pytest.raises(EntityError, match=message):
        allowed_options(value)


def test_due_date_is_minutes_or_an_iso_date():
    assert due_date(None, 1000.0) is None
    assert due_date("30", 1000.0) == 1000.0 + 1800
    assert due_date(2, 1000.0) == 1120.0
    assert due_date("0", 1000.0) is None  # taskman: none when not positive
    assert due_date("1970-01-01T00:20:00Z", 0.0) == 1200.0
    assert due_date("1970-01-01T00:20:00", 0.0) == 1200.0  # UTC when no zone
    with pytest.raises(EntityError, match="minutes from now .* or an ISO 8601 date"):
        due_date("soon", 0.0)


def test_callback_url_is_absolute_or_a_path_after_the_base_url():
    assert resolve_url(" http://h:1/cb/x ", "") == "http://h:1/cb/x"
    assert resolve_url("/platform/v1/cb", "http://wecube:8080") == "http://wecube:8080/platform/v1/cb"
    with pytest.raises(ValueError, match="WECUBE_SANDBOX_CALLBACK_BASE_URL"):
        resolve_url("/platform/v1/cb", "")
    for bad in ("ftp://h/x", "h:1/x", "//h/x", ""):
        with pytest.raises(ValueError, match="http\\(s\\) URL or a path"):
            resolve_url(bad, "http://wecube")


def test_delivery_settings_from_env():
    assert DeliverySettings.from_env({}) == DeliverySettings()
    s = DeliverySettings.from_env(
        {
            "WECUBE_SANDBOX_CALLBACK_ATTEMPTS": "3",
            "WECUBE_SANDBOX_CALLBACK_BACKOFF": "0.5",
            "WECUBE_SANDBOX_CALLBACK_BASE_URL": "http://p:1/",
        }
    )
    assert (s.attempts, s.backoff, s.base_url) == (3, 0.5, "http://p:1")
    assert [s.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert DeliverySettings(backoff=50).delay(5) == 60.0
    with pytest.raises(ValueError) as e:
        DeliverySettings.from_env(
            {
                "WECUBE_SANDBOX_CALLBACK_ATTEMPTS": "0",
                "WECUBE_SANDBOX_CALLBACK_TIMEOUT": "x",
                "WECUBE_SANDBOX_CALLBACK_BASE_URL": "wecube:8080",
            }
        )
    assert "ATTEMPTS='0' must be an integer from 1 to 100" in str(e.value)
    assert "TIMEOUT='x' must be a number" in str(e.value) and "BASE_URL='wecube:8080'" in str(e.value)


def test_rejecting_option():
    assert rejecting_option(["Approve", "Reject"]) == "Reject"
    assert rejecting_option(["go", "DENY"]) == "DENY"
    assert rejecting_option(["go", "stop"]) == ""
