"""The WeCube plugin protocol, server side, in one place.

A sandbox plugin module declares a :class:`SandboxPackage` and its interfaces with decorators:

* :meth:`SandboxPlugin.entity` — a per-entity handler ``(entity, call) -> dict of outputs``; it
  raises :class:`EntityError` to fail that entity only. The framework answers one output per
  ``inputs`` element (same ``callbackParameter``) and a ``resultCode "1"`` summarising the failed
  entities when any failed, with every output still returned (WeCube's partial failure).
* :meth:`SandboxPlugin.request` — a whole-request handler ``(call) -> PluginResponse | Response``
  for interfaces that answer something other than per-entity outputs (the fault modes).

Everything else is shared: the bearer-token check (answered as WeCube plugins do: HTTP 200 with
``resultCode "1"``), parsing the body into :class:`~airflow_wecube.protocol.wire.PluginRequest`,
required inputs checked against the package's own ``register.xml``, and recording each call for
``GET /sandbox/calls``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import sqlite3
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from airflow_wecube.protocol.wire import PluginRequest, PluginResponse, PluginResults, error_output, ok_output
from airflow_wecube.registry.models import Interface, Package, service_name
from airflow_wecube.sandbox import idempotency
from airflow_wecube.sandbox.outages import in_outage
from airflow_wecube.sandbox.store import Store

log = logging.getLogger(__name__)

EntityHandler = Callable[[dict[str, Any], "Call"], dict[str, Any]]
RequestHandler = Callable[["Call"], "PluginResponse | Response"]

#: at most this many failed entities are named in a partial failure's ``resultMessage``
SUMMARY_LIMIT = 5

#: a resource name (VPC, subnet, host, app, ...): what :func:`name_input` admits
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class EntityError(Exception):
    """Fails one entity: its output gets ``errorCode "1"`` and this message; the others go on."""


@dataclass
class Call:
    """One plugin call as a handler sees it."""

    store: Store
    request: PluginRequest
    service: str
    interface: Interface
    headers: dict[str, str]

    @property
    def request_id(self) -> str:
        return self.request.request_id


@dataclass
class _Spec:
    plugin: str
    register_name: str
    action: str
    path: str
    kind: str  # "entity" | "request"
    handler: Callable[..., Any]


@dataclass
class SandboxPackage:
    """A sandbox plugin package: its interfaces and the SQLite tables its handlers use.

    :param name: the package name, as in its ``register.xml``
    :param schema: ``CREATE TABLE IF NOT EXISTS`` statements (run at server start)
    """

    name: str
    schema: str = ""
    specs: list[_Spec] = field(default_factory=list)
    shutdown_hooks: list[Callable[[], None]] = field(default_factory=list)
    startup_hooks: list[Callable[[Store], None]] = field(default_factory=list)
    extra_routers: list[Callable[[Store], APIRouter]] = field(default_factory=list)

    def add_routes(self, make: Callable[[Store], APIRouter]) -> Callable[[Store], APIRouter]:
        """Serve ``make(store)``'s routes beside the interfaces: pages and APIs that are not plugin
        interfaces (not in the manifest, not behind the plugin token), such as a task inbox."""
        self.extra_routers.append(make)
        return make

    def on_startup(self, fn: Callable[[Store], None]) -> Callable[[Store], None]:
        """Run ``fn(store)`` (blocking is fine) when the server starts, before it answers requests."""
        self.startup_hooks.append(fn)
        return fn

    def on_shutdown(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Run ``fn`` (blocking is fine) when the server shuts down, before the store closes."""
        self.shutdown_hooks.append(fn)
        return fn

    def plugin(self, name: str, register_name: str = "") -> SandboxPlugin:
        return SandboxPlugin(self, name, register_name)

    def services(self) -> dict[str, str]:
        """``{service name: path}`` of every interface this package serves."""
        return {service_name(self.name, s.plugin, s.action, s.register_name): s.path for s in self.specs}

    def router(self, store: Store, token: str, manifest: Package) -> APIRouter:
        """An APIRouter serving every interface; each must be declared in ``manifest`` at the same path."""
        declared = manifest.services()
        hooked = self.shutdown_hooks or self.startup_hooks
        router = APIRouter(tags=[self.name], lifespan=self._lifespan(store) if hooked else None)
        for spec in self.specs:
            name = service_name(self.name, spec.plugin, spec.action, spec.register_name)
            service = declared.get(name)
            if service is None:
                raise RuntimeError(f"sandbox serves {name} but {self.name}'s register.xml does not declare it")
            if service.path != spec.path or service.method != "POST":
                raise RuntimeError(
                    f"sandbox serves {name} at POST {spec.path} but register.xml says {service.method} {service.path}"
                )
            router.add_api_route(
                spec.path,
                _endpoint(store, token, name, service.interface, spec),
                methods=["POST"],
                name=name,
                response_class=JSONResponse,
            )
        for make in self.extra_routers:
            router.include_router(make(store))
        return router

    def _lifespan(self, store: Store):
        hooks = list(self.shutdown_hooks)
        startup = list(self.startup_hooks)

        @asynccontextmanager
        async def lifespan(app):
            for hook in startup:
                try:
                    await run_in_threadpool(hook, store)
                except Exception:  # the server still starts; the hook says in the log what it could not do
                    log.exception("startup hook %s of sandbox package %s failed", hook, self.name)
            yield
            for hook in hooks:
                try:
                    await run_in_threadpool(hook)
                except Exception:  # one failing hook must not keep the others from running
                    log.exception("shutdown hook %s of sandbox package %s failed", hook, self.name)

        return lifespan


@dataclass
class SandboxPlugin:
    package: SandboxPackage
    name: str
    register_name: str = ""

    def _add(self, action: str, path: str | None, kind: str) -> Callable[[Callable], Callable]:
        def decorate(fn: Callable) -> Callable:
            self.package.specs.append(
                _Spec(
                    plugin=self.name,
                    register_name=self.register_name,
                    action=action,
                    path=path or f"/{self.package.name}/v1/{self.name}/{action}",
                    kind=kind,
                    handler=fn,
                )
            )
            return fn

        return decorate

    def entity(self, action: str, *, path: str | None = None) -> Callable[[EntityHandler], EntityHandler]:
        """Declare a per-entity interface (default path ``/{package}/v1/{plugin}/{action}``)."""
        return self._add(action, path, "entity")

    def request(self, action: str, *, path: str | None = None) -> Callable[[RequestHandler], RequestHandler]:
        """Declare an interface whose handler answers the whole request itself."""
        return self._add(action, path, "request")


# -- helpers for handlers ---------------------------------------------------------------------


def failure(message: str) -> PluginResponse:
    """A whole-call failure: HTTP 200, ``resultCode "1"``."""
    return PluginResponse(resultCode="1", resultMessage=message)


def success(outputs: list[dict[str, Any]]) -> PluginResponse:
    return PluginResponse(resultCode="0", resultMessage="success", results=PluginResults(outputs=outputs))


def present(value: Any) -> bool:
    return value is not None and value != ""


def text(entity: dict[str, Any], name: str) -> str:
    """A string input, refused (for this entity) when it is a list or an object."""
    value = entity.get(name)
    if isinstance(value, (dict, list)):
        raise EntityError(f"input {name} must be a string, got {type(value).__name__}")
    return "" if value is None else str(value)


def _json_input(entity: dict[str, Any], name: str, kind: type, what: str) -> Any:
    """An input of type ``kind``, sent as such or as a string holding its JSON (WeCube sends both).

    Missing or empty gives an empty ``kind``; anything else is refused for this entity.
    """
    value = entity.get(name)
    if value is None or value == "":
        return kind()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise EntityError(f"input {name} must be {what}, got a string that is not JSON") from None
    if not isinstance(value, kind):
        raise EntityError(f"input {name} must be {what}, got {type(value).__name__}")
    return value


def obj(entity: dict[str, Any], name: str) -> dict[str, Any]:
    """An object input: a JSON object, or a string holding one (WeCube sends both)."""
    return _json_input(entity, name, dict, "an object")


def array(entity: dict[str, Any], name: str) -> list[Any]:
    """A list input: a JSON list, or a string holding one (WeCube sends both)."""
    return _json_input(entity, name, list, "a list")


def integer(entity: dict[str, Any], name: str, default: int = 0) -> int:
    value = entity.get(name)
    if not present(value):
        return default
    if isinstance(value, bool):
        raise EntityError(f"input {name} must be an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise EntityError(f"input {name} must be an integer, got {value!r}") from None


def flag(entity: dict[str, Any], name: str) -> bool:
    """A yes/no input: ``"Y"``/``"N"``, ``true``/``false`` (JSON or string), ``1``/``0``."""
    value = entity.get(name)
    if not present(value):
        return False
    if isinstance(value, bool):
        return value
    v = str(value).strip().upper()
    if v in ("Y", "YES", "TRUE", "1"):
        return True
    if v in ("N", "NO", "FALSE", "0"):
        return False
    raise EntityError(f"input {name} must be Y or N, got {value!r}")


def name_input(entity: dict[str, Any], field: str = "name") -> str:
    """A resource name: letters, digits, ``.``, ``_``, ``-``; at most 63 characters."""
    value = text(entity, field).strip()
    if not NAME_RE.match(value):
        raise EntityError(
            f"input {field} must be 1-63 letters, digits, '.', '_' or '-' starting with a letter or digit,"
            f" got {value!r}"
        )
    return value


def lookup(db: sqlite3.Connection, select: str, ref: str, *, alias: str = "") -> sqlite3.Row | None:
    """The row of ``select`` (``SELECT ... FROM <table> [<alias> JOIN ...]``) whose guid is ``ref``,
    else the one whose name is; ``None`` when neither. A guid wins over a name."""
    column = f"{alias}." if alias else ""
    row = db.execute(f"{select} WHERE {column}guid = ?", (ref,)).fetchone()
    return row or db.execute(f"{select} WHERE {column}name = ?", (ref,)).fetchone()


def find_by_ref(
    db: sqlite3.Connection, select: str, ref: str, what: str, *, alias: str = "", hint: str = "give its guid or name"
) -> sqlite3.Row:
    """:func:`lookup`, failing the entity (``unknown <what> '<ref>' (<hint>)``) when nothing matches."""
    row = lookup(db, select, ref, alias=alias)
    if row is None:
        raise EntityError(f"unknown {what} {ref!r} ({hint})")
    return row


# -- the shared endpoint ----------------------------------------------------------------------


def _headers(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _authorized(headers: dict[str, str], token: str) -> str | None:
    """``None`` when the bearer token is right, else why not."""
    auth = headers.get("authorization", "")
    if not auth:
        return "unauthorized: missing Authorization header"
    scheme, _, given = auth.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "unauthorized: expected 'Authorization: Bearer <token>'"
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return "unauthorized: invalid token"
    return None


def _per_entity(call: Call, handler: EntityHandler) -> PluginResponse:
    outputs: list[dict[str, Any]] = []
    failed: list[tuple[Any, str]] = []
    required = [p.name for p in call.interface.inputs if p.required]
    for index, entity in enumerate(call.request.inputs):
        cb = entity.get("callbackParameter")
        if not present(cb):
            message = f"input #{index} has no callbackParameter"
            outputs.append(error_output("", message))
            failed.append((f"#{index}", message))
            continue
        try:
            missing = [name for name in required if not present(entity.get(name))]
            if missing:
                raise EntityError(f"missing required input(s): {', '.join(missing)}")
            values = handler(entity, call) or {}
            outputs.append(ok_output(cb, **values))
        except EntityError as e:
            outputs.append(error_output(cb, str(e)))
            failed.append((cb, str(e)))
        except Exception as e:  # a sandbox bug must not hide the other entities' results
            log.exception("%s failed on entity %s", call.service, cb)
            outputs.append(error_output(cb, f"internal error: {type(e).__name__}: {e}"))
            failed.append((cb, f"internal error: {type(e).__name__}"))
    if not failed:
        return success(outputs)
    named = "; ".join(f"{cb}: {msg}" for cb, msg in failed[:SUMMARY_LIMIT])
    more = f"; and {len(failed) - SUMMARY_LIMIT} more" if len(failed) > SUMMARY_LIMIT else ""
    return PluginResponse(
        resultCode="1",
        resultMessage=f"{len(failed)} of {len(outputs)} entities failed: {named}{more}",
        results=PluginResults(outputs=outputs),
    )


_NOT_JSON = object()


def _endpoint(store: Store, token: str, service: str, interface: Interface, spec: _Spec):
    platform_filled = frozenset(p.name for p in interface.inputs if p.mapping_type == "system_variable")

    def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, PluginResponse | Response]:
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = _NOT_JSON
        denied = _authorized(headers, token)
        if denied:
            return payload, failure(denied)
        if payload is _NOT_JSON:
            return None, failure("bad request: body is not JSON")
        try:
            parsed = PluginRequest.model_validate(payload)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in err['loc']) or 'body'}: {err['msg']}" for err in e.errors()
            )
            return payload, failure(f"bad request: not a WeCube plugin request ({problems})")
        call = Call(store=store, request=parsed, service=service, interface=interface, headers=headers)
        # a repeated requestId gets the first successful answer; the handler runs once (idempotency.py).
        # Inputs the platform fills per call (system variables: an async retry's new CALLBACK_URL) are not
        # part of "the same inputs"
        same = idempotency.without(parsed.inputs, platform_filled)
        return payload, idempotency.once(store, service, parsed.request_id, same, lambda: run(call))

    def run(call: Call) -> PluginResponse | Response:
        if spec.kind == "entity":
            return _per_entity(call, spec.handler)
        try:
            return spec.handler(call)
        except EntityError as e:
            return failure(f"bad request: {e}")
        except Exception as e:  # a sandbox bug: answer in protocol, keep the traceback in the log
            log.exception("%s failed", service)
            return failure(f"internal error: {type(e).__name__}: {e}")

    def process(method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        if in_outage(store, service):
            return JSONResponse({"error": f"{service} is unavailable (sandbox outage)"}, status_code=503)
        payload, result = answer(method, path, headers, body)
        if isinstance(result, idempotency.Replayed):
            response, result_code = result, "0"
        elif isinstance(result, Response):
            response, result_code = result, None
        else:
            response, result_code = JSONResponse(result.to_wire()), result.result_code
        fields = payload if isinstance(payload, dict) else {}
        request_id = fields.get("requestId")
        service_name_sent = fields.get("serviceName")
        store.record_call(
            method=method,
            path=path,
            headers=headers,
            service_name=service_name_sent if isinstance(service_name_sent, str) else None,
            request_id=request_id if isinstance(request_id, str) else None,
            inputs=fields.get("inputs"),
            status_code=response.status_code,
            result_code=result_code,
            replayed=isinstance(result, idempotency.Replayed),
        )
        return response

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        return await run_in_threadpool(process, request.method, request.url.path, _headers(request), body)

    endpoint.__name__ = service.replace("/", "_").replace("-", "_")
    endpoint.__doc__ = interface.description or f"WeCube plugin interface {service}"
    return endpoint
