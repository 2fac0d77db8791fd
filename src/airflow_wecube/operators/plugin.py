"""Operators that call WeCube plugin interfaces."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_wecube.exceptions import ParameterValidationError, WeCubePluginError
from airflow_wecube.hooks.plugin import WeCubePluginHook, mask_secret
from airflow_wecube.operators.plugin_async import ON_TIMEOUT
from airflow_wecube.protocol.platform_inputs import CONTEXT, filled_by_platform, unknown_context_hint
from airflow_wecube.protocol.request_ids import stable_request_id
from airflow_wecube.registry import Registry, Service

if TYPE_CHECKING:
    from airflow.sdk import Context

#: XCom key under which the outputs of the entities that succeeded are pushed when others failed.
SUCCEEDED_XCOM_KEY = "succeeded_outputs"
#: XCom key of the full call result (request id, result code and message, outputs, failed).
RESULT_XCOM_KEY = "plugin_result"


class WeCubePluginOperator(BaseOperator):
    """Call one WeCube plugin interface for one or many entities in one request.

    The return value (XCom ``return_value``) is the outputs: a dict when ``inputs`` is a dict,
    a list in input order when it is a list. When some entities fail, the task fails listing each
    one's ``callbackParameter`` and ``errorMessage``; the outputs that succeeded are still pushed
    under XCom key ``succeeded_outputs``. Values of ``sensitiveData="Y"`` parameters are masked.

    :param service: ``package/plugin/action``; ``package@version/plugin/action`` pins a version
    :param inputs: parameters of one entity (dict) or of many (list of dicts). Templated.
    :param version: package version to use (default: the highest registered)
    :param wecube_conn_id: connection to the plugin
    :param registry_path: registry folder (default from config)

    Inputs the platform fills (``mappingType="system_variable"``, e.g. ``callbackUrl``, and
    ``mappingType="context"``, e.g. ``procInstId``) need not be passed; one passed anyway wins
    (docs/async-plugins.md). On an asynchronous interface (``isAsyncProcessing="Y"``) the operator
    sends the request, then defers (triggerer, no worker slot) until the plugin POSTs its result to
    the call's own callback URL; the outputs come from that callback, with the same failure rules.

    :param timeout: asynchronous interfaces: how long to wait for the callback (``timedelta`` or
        seconds; None: no limit). Sent to the plugin as ``dueDate`` (minutes).
    :param on_timeout: ``fail`` (default) | ``skip`` | ``approve`` | ``reject`` (APPROVAL interfaces:
        take the first approving / rejecting option)
    :param allowed_options: APPROVAL interfaces: the options offered (sent as ``allowedOptions``;
        default ``["Approve", "Reject"]``); the chosen one is the result (XCom ``chosen_option``)
    :param reject_options: which options reject (default: those meaning no: Reject, Deny, No, ...)
    :param fail_on_reject: fail the task when a rejecting option is chosen (default True)
    """

    template_fields: Sequence[str] = ("service", "inputs", "version")
    template_fields_renderers = {"inputs": "json"}
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        service: str,
        inputs: dict[str, Any] | list[dict[str, Any]],
        version: str | None = None,
        wecube_conn_id: str = WeCubePluginHook.default_conn_name,
        registry_path: str | None = None,
        timeout: timedelta | float | None = None,
        on_timeout: str = "fail",
        allowed_options: Sequence[str] | None = None,
        reject_options: Sequence[str] | None = None,
        fail_on_reject: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.inputs = inputs
        self.version = version
        self.wecube_conn_id = wecube_conn_id
        self.registry_path = registry_path
        if on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}, got {on_timeout!r}")
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
            raise ValueError(f"timeout must be a positive number of seconds or a timedelta, got {timeout!r}")
        for name, value in (("allowed_options", allowed_options), ("reject_options", reject_options)):
            if value is not None and (isinstance(value, str) or not all(isinstance(o, str) and o for o in value)):
                raise ValueError(f"{name} must be a list of non-empty strings, got {value!r}")
        self.timeout_seconds = float(seconds) if seconds is not None else None
        self.on_timeout = on_timeout
        self.allowed_options = list(allowed_options) if allowed_options is not None else None
        self.reject_options = list(reject_options) if reject_options is not None else None
        self.fail_on_reject = fail_on_reject

    def _registry(self) -> Registry:
        from airflow_wecube.config import default_registry

        return default_registry(self.registry_path)

    def render_template_fields(self, context, jinja_env=None) -> None:
        super().render_template_fields(context, jinja_env)
        # Mask sensitive values before Airflow stores the rendered fields.
        try:
            svc = self._registry().service(self.service, self.version)
        except Exception:
            return  # execute() reports an unknown service clearly
        entities = [self.inputs] if isinstance(self.inputs, dict) else self.inputs or []
        for name in svc.interface.sensitive_inputs:
            for e in entities:
                if isinstance(e, dict):
                    mask_secret(e.get(name))

    @property
    def _single(self) -> bool:
        return isinstance(self.inputs, dict)

    def _package_defaults(self, svc: Service) -> dict[str, str]:
        try:
            package = self._registry().get(svc.package, svc.version)
        except Exception:
            return {}
        return {p.name: p.default_value for p in package.system_parameters if p.default_value}

    def execute(self, context: Context) -> Any:
        from airflow_wecube.operators import plugin_async
        from airflow_wecube.protocol.platform_inputs import RunContext, fill_platform_inputs
        from airflow_wecube.protocol.validation import normalise_inputs

        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None else -1
        request_id = stable_request_id(ti.dag_id, ti.run_id, ti.task_id, map_index)
        hook = WeCubePluginHook(self.wecube_conn_id, registry=self._registry())
        svc = hook.registry.service(self.service, self.version)
        if svc.interface.protocol == "wecube":
            dag_run = context.get("dag_run")
            run = RunContext(
                ti.dag_id, ti.run_id, ti.task_id, map_index, getattr(dag_run, "triggering_user_name", None)
            )
            entities = normalise_inputs(self.inputs)
            if svc.interface.is_async:
                return plugin_async.send_and_defer(self, context, hook, svc, entities, request_id, run)
            inputs = fill_platform_inputs(
                svc, entities, run, sysvar=plugin_async.sysvar_lookup, package_defaults=self._package_defaults(svc)
            )
        else:
            inputs = self.inputs
        try:
            result = hook.call(svc, inputs, request_id=request_id)
        except WeCubePluginError as e:
            self._raise_failed(ti, e)
            raise
        ti.xcom_push(key=RESULT_XCOM_KEY, value=result.to_dict())
        self.log.info("%s: %d output(s), resultMessage=%r", result.service, len(result.outputs), result.result_message)
        if self._single:
            return result.outputs[0] if result.outputs else {}
        return result.outputs

    def execute_complete(self, context: Context, event: dict[str, Any], wecube_async: dict[str, Any]) -> Any:
        """Resumed by :class:`~airflow_wecube.triggers.callback.PluginCallbackTrigger` (asynchronous interfaces)."""
        from airflow_wecube.operators import plugin_async

        return plugin_async.complete(self, context, event, wecube_async)

    def _raise_failed(self, ti, e: WeCubePluginError) -> None:
        """Record what a failed call returned, then raise listing each failed entity (or return)."""
        if e.result is not None:
            ti.xcom_push(key=SUCCEEDED_XCOM_KEY, value=e.result.succeeded)
            ti.xcom_push(key=RESULT_XCOM_KEY, value=e.result.to_dict())
            if e.result.failed:
                lines = "\n".join(
                    f"  - {o.get('callbackParameter')}: {o.get('errorMessage') or '(no message)'}"
                    for o in e.result.failed
                )
                if e.result.unexpected:
                    lines += f"\n  - {e.result.unexpected_note()}"
                raise WeCubePluginError(
                    f"{e.result.service}: {len(e.result.failed)} of {len(e.result.outputs)} entities failed "
                    f"({e.result.result_message}):\n{lines}\n"
                    f"outputs of the {len(e.result.succeeded)} that succeeded are in XCom '{SUCCEEDED_XCOM_KEY}'",
                    result=e.result,
                ) from None


_BASE_ARGS: frozenset[str] | None = None


def _base_operator_args() -> frozenset[str]:
    global _BASE_ARGS
    if _BASE_ARGS is None:
        names = set()
        for cls in (WeCubePluginOperator, BaseOperator):
            names |= set(inspect.signature(cls.__init__).parameters)
        _BASE_ARGS = frozenset(names - {"self", "kwargs", "args", "inputs", "service"})
    return _BASE_ARGS


def _class_name(svc: Service) -> str:
    words = re.split(r"[^A-Za-z0-9]+", f"{svc.package} {svc.plugin} {svc.register_name} {svc.interface.action}")
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "Operator"


#: services whose clash with operator arguments was already warned about in this process
_WARNED_CLASHES: set[str] = set()


def _class_keywords() -> frozenset[str]:
    """Keywords a plugin_operator class keeps for itself: Airflow's and the operator's arguments.

    Not ``version`` nor ``service``: the class is made for one pinned service, so a plugin
    parameter of that name (``deploy/app/deploy`` has ``version``) stays the plugin's.
    """
    return (_base_operator_args() - {"version"}) | {"inputs", "callback_parameter"}


def _clashes(svc: Service) -> list[str]:
    """Input parameters named like an operator argument (``task_id``, ``retries``, ``pool``...)."""
    taken = _class_keywords()
    return sorted(p.name for p in svc.interface.inputs if p.name in taken)


def _docstring(svc: Service, clashes: list[str] = ()) -> str:
    i = svc.interface
    lines = [
        f"Call WeCube service ``{svc.name}`` ({svc.package} {svc.version}): {i.http_method} {i.path}.",
        "",
        i.description or "Operator class made from the plugin manifest.",
        "",
    ]
    if clashes:
        names = ", ".join(f"``{n}``" for n in clashes)
        lines[-1:-1] = [
            "",
            f"Input parameter(s) {names} are named like operator arguments: those keywords keep their",
            "Airflow meaning; give the plugin's values in ``inputs={...}`` (allowed beside keywords).",
        ]
    for p in i.inputs:
        filled = filled_by_platform(p)
        flags = ", ".join(
            x
            for x in (
                p.datatype,
                "filled by the platform" if filled else ("required" if p.required else "optional"),
                "sensitive" if p.sensitive else "",
            )
            if x
        )
        via = " Pass it in ``inputs=``: the keyword is Airflow's." if p.name in clashes else ""
        lines.append(f":param {p.name}: ({flags}) {p.description}{via}".rstrip())
    lines.append(":param callback_parameter: the entity id sent as ``callbackParameter`` (default ``0``)")
    lines.append(
        ":param inputs: the input parameters as a dict (merged with the keywords), or a list of dicts (one per entity)"
    )
    outs = ", ".join(p.name for p in i.outputs)
    lines.append(f"\nReturns the plugin's output dict ({outs}).")
    return "\n".join(lines)


def plugin_operator(
    service: str, *, version: str | None = None, registry_path: str | None = None
) -> type[WeCubePluginOperator]:
    """An operator class for one interface, whose keyword arguments are its input parameters.

    Made at DAG parse time from the registry (cheap). A DAG passing an unknown parameter or
    leaving out a required one fails to import with a message naming it. Operator arguments
    (``task_id``, ``retries``, ``pool``...) always keep their Airflow meaning: an input parameter
    of such a name is given in ``inputs={...}`` (allowed beside keywords and operator arguments),
    and making the class warns once, naming the clash. ``inputs=`` a list (one dict per entity)
    or a template/XCom takes full control: keyword parameters are then refused.
    """
    from airflow_wecube.config import default_registry

    registry = default_registry(registry_path)
    svc = registry.service(service, version)
    clashes = _clashes(svc)
    params = {p.name: p for p in svc.interface.inputs if p.name not in clashes}
    # the platform fills system variables and known context names (platform_inputs.py): not the author's job
    required = [p.name for p in svc.interface.inputs if p.required and not filled_by_platform(p)]
    unknown_context = {p.name: unknown_context_hint(p) for p in svc.interface.inputs if p.mapping_type == CONTEXT}
    pinned = version or svc.version
    if clashes and svc.name not in _WARNED_CLASHES:
        _WARNED_CLASHES.add(svc.name)
        warnings.warn(
            f"{svc.name}: input parameter(s) {', '.join(clashes)} are named like operator arguments; "
            f"those keywords go to Airflow, give the plugin's values in inputs={{...}}",
            UserWarning,
            stacklevel=2,
        )

    def __init__(self, *, callback_parameter: str | None = None, inputs=None, **kwargs):
        values = {k: kwargs.pop(k) for k in list(kwargs) if k in params}
        unknown = [k for k in kwargs if k not in _class_keywords()]
        problems = []
        if unknown:
            problems.append(
                f"unknown parameter(s) {', '.join(sorted(unknown))} (declared: {', '.join(svc_params) or 'none'})"
            )
        if inputs is None or isinstance(inputs, dict):
            given = dict(inputs or {})
            both = sorted(values.keys() & given.keys())
            if both:
                problems.append(f"{', '.join(both)} given both as keyword and in inputs=")
            given.update(values)
            missing = [n for n in required if given.get(n) is None]
            if missing:
                problems.append(
                    f"missing required {', '.join(missing)}"
                    + (
                        " (named like an Airflow argument: pass it in inputs={...})"
                        if set(missing) & set(clashes)
                        else ""
                    )
                    + "".join(f" ({unknown_context[n]})" for n in missing if n in unknown_context)
                )
            inputs = {**(inputs or {}), **values}
            if callback_parameter is not None:
                inputs["callbackParameter"] = callback_parameter
        elif values:
            problems.append(f"pass parameters either as keywords or in inputs=, not both ({', '.join(values)})")
        if problems:
            raise ParameterValidationError(svc.name, problems)
        kwargs.setdefault("registry_path", registry_path)
        WeCubePluginOperator.__init__(self, service=svc.name, inputs=inputs, version=pinned, **kwargs)

    svc_params = [p.name for p in svc.interface.inputs]
    name = _class_name(svc)
    return type(
        name,
        (WeCubePluginOperator,),
        {"__init__": __init__, "__doc__": _docstring(svc, clashes), "__module__": __name__},
    )
