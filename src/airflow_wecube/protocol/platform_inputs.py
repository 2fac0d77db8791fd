"""Inputs the platform fills: WeCube's ``mappingType="system_variable"`` and ``mappingType="context"``.

In WeCube a DAG author (a process designer) never types these: the platform gives each call its
callback URL (system variable ``CALLBACK_URL``), the process instance id (context ``procInstId``)
and so on. Here the operator fills them just before the call; a value the author passes anyway wins.

System variables are looked up, in this order (the first that has a value wins):

1. the value passed in ``inputs`` (always wins);
2. ``CALLBACK_URL``: this call's callback endpoint (asynchronous interfaces only);
3. the Airflow Variable ``wecube_sysvar_<NAME>`` (e.g. ``wecube_sysvar_GATEWAY_URL``);
4. ``[wecube] sysvar_<name>`` in Airflow's config (env ``AIRFLOW__WECUBE__SYSVAR_<NAME>``);
5. the ``defaultValue`` of a ``<systemParameter name="NAME">`` of the plugin's own package.

Context names are those of :data:`CONTEXT_NAMES`; any other name cannot be filled, so the author
must pass it (validation says so). Pure: no Airflow import; the lookups are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_wecube.exceptions import ParameterValidationError
from airflow_wecube.registry.models import Parameter, Service

SYSTEM_VARIABLE = "system_variable"
CONTEXT = "context"
CALLBACK_URL = "CALLBACK_URL"
SYSVAR_VARIABLE_PREFIX = "wecube_sysvar_"
SYSVAR_CONFIG_PREFIX = "sysvar_"


@dataclass(frozen=True)
class RunContext:
    """Where a call is made from: the task instance (what WeCube calls the process context)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    triggered_by: str | None = None


#: context names the platform fills, with how (docs/async-plugins.md lists them too)
CONTEXT_NAMES: dict[str, tuple[str, Callable[[RunContext], str]]] = {
    "procInstId": ("the DAG run: '<dag_id>/<run_id>'", lambda r: f"{r.dag_id}/{r.run_id}"),
    "procInstKey": ("the run id", lambda r: r.run_id),
    "procDefId": ("the DAG id", lambda r: r.dag_id),
    "procDefKey": ("the DAG id", lambda r: r.dag_id),
    "taskNodeDefId": ("the task id", lambda r: r.task_id),
    "taskNodeInstId": (
        "the task instance: '<dag_id>/<run_id>/<task_id>/<map_index>'",
        lambda r: f"{r.dag_id}/{r.run_id}/{r.task_id}/{r.map_index}",
    ),
    "operator": ("the user who triggered the run ('airflow' when none)", lambda r: r.triggered_by or "airflow"),
}


def sysvar_name(p: Parameter) -> str:
    """The system variable a parameter reads (``mappingSystemVariableName``, else its own name)."""
    return p.mapping_system_variable_name or p.name


def filled_by_platform(p: Parameter) -> str | None:
    """``"system_variable"`` / ``"context"`` when the platform fills ``p``, else None (the author must)."""
    if p.mapping_type == SYSTEM_VARIABLE:
        return SYSTEM_VARIABLE
    if p.mapping_type == CONTEXT and p.name in CONTEXT_NAMES:
        return CONTEXT
    return None


def platform_mark(p: Parameter) -> str | None:
    """How ``wecube plugins show`` marks a parameter the platform fills (or could not)."""
    kind = filled_by_platform(p)
    if kind == SYSTEM_VARIABLE:
        return f"filled-by-platform(system variable {sysvar_name(p)})"
    if kind == CONTEXT:
        return f"filled-by-platform(context: {CONTEXT_NAMES[p.name][0]})"
    if p.mapping_type == CONTEXT:
        return "context-unknown(pass it yourself)"
    return None


def unknown_context_hint(p: Parameter) -> str:
    return (
        f"{p.name} is mapped from the process context, and Airflow has no context value of that name "
        f"(known: {', '.join(CONTEXT_NAMES)}); pass {p.name} in inputs"
    )


def fill_platform_inputs(
    service: Service,
    entities: list[dict[str, Any]],
    run: RunContext,
    *,
    sysvar: Callable[[str], str | None],
    callback_url: str | None = None,
    package_defaults: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Copies of ``entities`` with every platform-filled input the author left out filled in.

    :param sysvar: looks a system variable up (Airflow Variable, then config), None when unset
    :param callback_url: this call's callback URL (``CALLBACK_URL``); None for a synchronous call
    :param package_defaults: ``systemParameters`` defaults of the plugin's package
    :raises ParameterValidationError: a required one has no value (every problem at once)
    """
    problems: list[str] = []
    resolved: dict[str, str | None] = {}
    out = []
    for entity in entities:
        entity = dict(entity)
        for p in service.interface.inputs:
            if p.mapping_type not in (SYSTEM_VARIABLE, CONTEXT) or entity.get(p.name) not in (None, ""):
                continue
            if p.mapping_type == CONTEXT:
                if p.name in CONTEXT_NAMES:
                    entity[p.name] = CONTEXT_NAMES[p.name][1](run)
                elif p.required:
                    problems.append(unknown_context_hint(p))
                continue
            name = sysvar_name(p)
            if name not in resolved:
                resolved[name] = _system_variable(name, service, sysvar, callback_url, package_defaults or {})
            if resolved[name] not in (None, ""):
                entity[p.name] = resolved[name]
            elif p.required:
                if name == CALLBACK_URL:
                    problems.append(
                        f"{p.name} is the system variable CALLBACK_URL, which only asynchronous interfaces get "
                        f'(isAsyncProcessing="Y"); {service.name} is synchronous: mark it asynchronous in the '
                        f"manifest, or pass {p.name} in inputs"
                    )
                else:
                    problems.append(
                        f"{p.name} is the system variable {name}, which has no value: set the Airflow Variable "
                        f"{SYSVAR_VARIABLE_PREFIX}{name} or [wecube] {SYSVAR_CONFIG_PREFIX}{name.lower()} "
                        f"(env AIRFLOW__WECUBE__{SYSVAR_CONFIG_PREFIX.upper()}{name.upper()}), "
                        f"or pass {p.name} in inputs"
                    )
        out.append(entity)
    if problems:
        raise ParameterValidationError(service.name, sorted(set(problems)))
    return out


def _system_variable(
    name: str,
    service: Service,
    sysvar: Callable[[str], str | None],
    callback_url: str | None,
    package_defaults: Mapping[str, str],
) -> str | None:
    if name == CALLBACK_URL and callback_url:
        return callback_url
    value = sysvar(name)
    if value not in (None, ""):
        return value
    return package_defaults.get(name) or None
