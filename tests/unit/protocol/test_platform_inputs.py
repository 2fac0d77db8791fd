"""Inputs the platform fills (mappingType system_variable / context): resolution order, errors, marks."""

from __future__ import annotations

import pytest

from airflow_wecube.exceptions import ParameterValidationError
from airflow_wecube.protocol.platform_inputs import (
    CONTEXT_NAMES,
    RunContext,
    fill_platform_inputs,
    filled_by_platform,
    platform_mark,
)
from airflow_wecube.registry.models import Interface, Parameter, Service

RUN = RunContext("dag_a", "manual__2026-12-01T10:00:00+00:00", "gate", 3, "alice")


def svc(*params: Parameter, is_async: bool = True) -> Service:
    itf = Interface(action="create", path="/x", is_async=is_async, inputs=params)
    return Service(name="pkg/plug/create", package="pkg", version="1", plugin="plug", interface=itf)


CB = Parameter(
    name="callbackUrl", required=True, mapping_type="system_variable", mapping_system_variable_name="CALLBACK_URL"
)
PROC = Parameter(name="procInstId", required=True, mapping_type="context")


def test_callback_url_and_context_are_filled_and_an_explicit_value_wins():
    s = svc(CB, PROC, Parameter(name="taskName", required=True, mapping_type="constant"))
    out = fill_platform_inputs(
        s, [{"callbackParameter": "0", "taskName": "t"}], RUN, sysvar=lambda n: None, callback_url="http://a/cb/x"
    )
    assert out == [
        {"callbackParameter": "0", "taskName": "t", "callbackUrl": "http://a/cb/x", "procInstId": f"dag_a/{RUN.run_id}"}
    ]
    mine = fill_platform_inputs(
        s, [{"procInstId": "P-1", "callbackUrl": "http://mine"}], RUN, sysvar=lambda n: None, callback_url="http://a"
    )
    assert mine[0]["procInstId"] == "P-1" and mine[0]["callbackUrl"] == "http://mine"


def test_system_variable_lookup_order():
    """Variable/config lookup (one callable) before the package's systemParameters default."""
    gw = Parameter(name="gateway", required=True, mapping_type="system_variable", mapping_system_variable_name="GW")
    seen = []

    def lookup(name):
        seen.append(name)
        return {"GW": "from-variable"}.get(name)

    out = fill_platform_inputs(svc(gw), [{}], RUN, sysvar=lookup, package_defaults={"GW": "from-manifest"})
    assert out[0]["gateway"] == "from-variable" and seen == ["GW"]
    out = fill_platform_inputs(svc(gw), [{}, {}], RUN, sysvar=lambda n: None, package_defaults={"GW": "from-manifest"})
    assert [e["gateway"] for e in out] == ["from-manifest", "from-manifest"]


def test_missing_required_system_variable_says_how_to_set_it():
    gw = Parameter(name="gateway", required=True, mapping_type="system_variable", mapping_system_variable_name="GW")
    with pytest.raises(ParameterValidationError) as e:
        fill_platform_inputs(svc(gw), [{}], RUN, sysvar=lambda n: None)
    msg = str(e.value)
    assert "wecube_sysvar_GW" in msg and "[wecube] sysvar_gw" in msg and "AIRFLOW__WECUBE__SYSVAR_GW" in msg
    optional = Parameter(name="opt", mapping_type="system_variable")
    assert fill_platform_inputs(svc(optional), [{}], RUN, sysvar=lambda n: None) == [{}]


def test_callback_url_on_a_synchronous_interface_is_a_clear_error():
    with pytest.raises(ParameterValidationError, match="only asynchronous interfaces get"):
        fill_platform_inputs(svc(CB, is_async=False), [{}], RUN, sysvar=lambda n: None, callback_url=None)


def test_unknown_context_name_must_be_passed():
    draft = Parameter(name="isDraftStatus", required=True, mapping_type="context")
    assert filled_by_platform(draft) is None and "pass it yourself" in platform_mark(draft)
    with pytest.raises(ParameterValidationError) as e:
        fill_platform_inputs(svc(draft), [{}], RUN, sysvar=lambda n: None)
    assert "isDraftStatus" in str(e.value) and "procInstId" in str(e.value)
    assert (
        fill_platform_inputs(svc(draft), [{"isDraftStatus": "N"}], RUN, sysvar=lambda n: None)[0]["isDraftStatus"]
        == "N"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("procInstId", "dag_a/manual__2026-12-01T10:00:00+00:00"),
        ("procInstKey", "manual__2026-12-01T10:00:00+00:00"),
        ("procDefId", "dag_a"),
        ("procDefKey", "dag_a"),
        ("taskNodeDefId", "gate"),
        ("taskNodeInstId", "dag_a/manual__2026-12-01T10:00:00+00:00/gate/3"),
        ("operator", "alice"),
    ],
)
def test_every_known_context_name(name, value):
    assert set(CONTEXT_NAMES) >= {name}
    p = Parameter(name=name, required=True, mapping_type="context")
    assert fill_platform_inputs(svc(p), [{}], RUN, sysvar=lambda n: None)[0][name] == value


def test_marks_for_plugins_show():
    assert platform_mark(CB) == "filled-by-platform(system variable CALLBACK_URL)"
    assert platform_mark(PROC).startswith("filled-by-platform(context")
    assert platform_mark(Parameter(name="x", mapping_type="constant")) is None
