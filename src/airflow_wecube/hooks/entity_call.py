"""An entity-bound plugin call: bind, call once for every entity, write the outputs back.

What ``WeCubePluginHook.call(service, entities=EXPR, root=ID)`` runs. An expression that reaches
no entity makes a successful no-op that says so (WeCube's behaviour), unless ``require_entities``.
When some entities fail, the ones that succeeded are still written back, then the call's error
is raised. The hook side of :mod:`airflow_wecube.datamodel` (binding and write-back are pure).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_wecube.datamodel.binding import bind
from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.evaluate import Evaluator
from airflow_wecube.datamodel.writeback import write_back
from airflow_wecube.exceptions import WeCubePluginError
from airflow_wecube.protocol.result import PluginResult

log = logging.getLogger(__name__)


def entity_call(
    hook: Any,
    service: Any,
    entities: str,
    *,
    root: str | None = None,
    inputs: dict[str, Any] | list[dict[str, Any]] | None = None,
    require_entities: bool = False,
    request_id: str | None = None,
    api: EntityApi | None = None,
    **call_kwargs: Any,
) -> Any:
    """Call ``service`` once for every entity ``entities`` reaches; returns the hook's ``PluginResult``
    with ``writeback`` (a :class:`~airflow_wecube.datamodel.writeback.WriteBack`) set.

    :param hook: a ``WeCubePluginHook`` (its ``call`` sends the request)
    :param api: the entity API (default: each package through its Airflow connection, see
        :func:`airflow_wecube.hooks.entities.entity_api`, made once per hook)
    """
    if api is None:  # kept on the hook, like its session: connections and data models read once per hook
        api = getattr(hook, "_wecube_entity_api", None)
        if api is None:
            from airflow_wecube.hooks.entities import entity_api

            api = hook._wecube_entity_api = entity_api(type(hook))
    evaluator = Evaluator(api)
    binding = bind(evaluator, service, entities, root=root, inputs=inputs)
    where = f"{entities}" + (f" from {root}" if root else "")
    if not binding.inputs:
        message = f"{where} reaches no entity: {service.name} not called"
        if require_entities:
            raise WeCubePluginError(f"{message} (require_entities=True)")
        log.info("%s", message)
        result = PluginResult(service.name, request_id or "", "0", message)
        result.writeback = None
        return result
    log.info(
        "%s reaches %d entit%s; calling %s",
        where,
        len(binding.rows),
        "y" if len(binding.rows) == 1 else "ies",
        service.name,
    )
    try:
        result = hook.call(service, binding.inputs, request_id=request_id, **call_kwargs)
    except WeCubePluginError as e:
        if e.result is not None and e.result.succeeded:
            done = write_back(evaluator, binding, e.result.succeeded)
            log.info("%s: %s (for the entities that succeeded)", service.name, done.summary())
            e.result.writeback = done
        raise
    result.writeback = write_back(evaluator, binding, result.outputs)
    log.info("%s: %s", service.name, result.writeback.summary())
    return result


__all__ = ["entity_call"]
