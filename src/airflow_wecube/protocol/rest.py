"""Call a REST service (an OpenAPI operation, docs/openapi.md) for ``WeCubePluginHook.call``.

One HTTP request per entity (bounded concurrency, results in input order), inputs validated
against their JSON Schema before any request, results in the plugin protocol's
:class:`~airflow_wecube.hooks.plugin.PluginResult` shape. Request building, validation and
response parsing are pure (no Airflow import); :func:`call_rest` drives them with the hook's
connection, session and auth.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow_wecube.exceptions import ParameterValidationError, WeCubePluginError
from airflow_wecube.protocol.validation import CALLBACK, normalise_inputs
from airflow_wecube.registry.models import Parameter, Service

if TYPE_CHECKING:
    import requests

    from airflow_wecube.hooks.plugin import PluginResult, WeCubePluginHook

#: methods retried after a connection error or HTTP 5xx; POST/PATCH only with an Idempotency-Key
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: connection extras read here (kept out of HTTP headers by the hook)
CONCURRENCY_EXTRA = "rest_concurrency"
IDEMPOTENCY_EXTRA = "idempotency_key"
DEFAULT_CONCURRENCY = 8
IDEMPOTENCY_HEADER = "Idempotency-Key"
_MAX_MESSAGE = 500

_validators: dict[int, tuple[Parameter, Any]] = {}


# -- validation ----------------------------------------------------------------------------------------


def _validator(p: Parameter):
    """A JSON Schema 2020-12 validator (with format checks) for one parameter, made once."""
    cached = _validators.get(id(p))
    if cached is not None and cached[0] is p:
        return cached[1]
    from jsonschema import Draft202012Validator

    if len(_validators) > 10_000:  # a long-lived worker reloading the registry: start afresh
        _validators.clear()
    v = Draft202012Validator(p.json_schema or {}, format_checker=Draft202012Validator.FORMAT_CHECKER)
    _validators[id(p)] = (p, v)
    return v


def _where(name: str, path) -> str:
    return name + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def value_problems(p: Parameter, value: Any) -> list[str]:
    """What is wrong with one value against its parameter's schema (a secret value is never quoted)."""
    from jsonschema.exceptions import best_match

    problems = []
    for top in sorted(_validator(p).iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
        err = best_match([top])  # into anyOf/oneOf: the branch that fits best says what is wrong
        where = _where(p.name, err.absolute_path)
        if p.sensitive:
            problems.append(f"{where}: invalid value (fails '{err.validator}'; sensitive, not shown)")
        else:
            msg = err.message if len(err.message) <= _MAX_MESSAGE else err.message[:_MAX_MESSAGE] + "..."
            problems.append(f"{where}: {msg}")
    if p.location == "header" and isinstance(value, str) and ("\r" in value or "\n" in value):
        problems.append(f"{p.name}: a header value cannot contain a line break")
    if p.location == "path" and isinstance(value, str) and value == "":
        problems.append(f"{p.name}: a path parameter cannot be empty")
    return problems


def validate_rest_inputs(service: Service, entities: list[dict[str, Any]]) -> None:
    """Raise :class:`ParameterValidationError` listing every problem of every entity."""
    params = {p.name: p for p in service.interface.inputs}
    problems: list[str] = []
    if not entities:
        problems.append("no entities: inputs is empty")
    callbacks = [e.get(CALLBACK) for e in entities]
    dupes = sorted({str(c) for c in callbacks if callbacks.count(c) > 1})
    if dupes:
        problems.append(f"callbackParameter not unique: {', '.join(dupes)}")
    for i, entity in enumerate(entities):
        where = f"entity {entity.get(CALLBACK, i)!s}" if len(entities) > 1 else "input"
        missing = [n for n, p in params.items() if p.required and entity.get(n) is None]
        if missing:
            problems.append(f"{where}: missing required {', '.join(missing)}")
        unknown = sorted(k for k in entity if k not in params and k != CALLBACK)
        if unknown:
            problems.append(
                f"{where}: unknown parameter(s) {', '.join(unknown)} (declared: {', '.join(params) or 'none'})"
            )
        for name, value in entity.items():
            if name in params and value is not None:
                problems += [f"{where}: {msg}" for msg in value_problems(params[name], value)]
    if problems:
        raise ParameterValidationError(service.name, problems)


def prepare_rest(service: Service, inputs: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entities with their ``callbackParameter``, validated; raises before any request."""
    entities = normalise_inputs(inputs)
    validate_rest_inputs(service, entities)
    return entities


# -- request building ------------------------------------------------------------------------------------


def encode_path_value(value: Any) -> str:
    """One path segment: every reserved character escaped (``/`` -> ``%2F``), and ``.``/``..``
    escaped too, so no value can add a segment or climb out of the path."""
    text = _scalar(value)
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def base_url(connection_base: str, has_host: bool, server_url: str) -> str:
    """Where the service's paths start: the connection's host, with a relative ``servers[0].url``
    as path prefix; an absolute server URL only when the connection has no host."""
    if has_host:
        prefix = server_url if server_url.startswith("/") else ""
        return connection_base.rstrip("/") + prefix
    if "://" in server_url:
        return server_url.rstrip("/")
    raise WeCubePluginError(
        "the connection has no host and the OpenAPI document gives no absolute server URL: set the connection's host"
    )


@dataclass
class RestRequest:
    """One HTTP request for one entity. ``url`` is final: already encoded, never re-quoted."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: Any = None
    has_body: bool = False


def build_request(
    service: Service,
    entity: dict[str, Any],
    *,
    base: str,
    api_key: str | None = None,
    idempotency_key: str | None = None,
) -> RestRequest:
    """The request for one entity of a REST service (inputs already validated)."""
    itf = service.interface
    rest = itf.rest
    path_values: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    whole: Any = None
    for p in itf.inputs:
        value = entity.get(p.name)
        if value is None:
            continue
        wire = p.wire_name or p.name
        if p.location == "path":
            path_values[wire] = encode_path_value(value)
        elif p.location == "query":
            for item in value if isinstance(value, list) else [value]:
                query.append((wire, _scalar(item)))
        elif p.location == "header":
            headers[wire] = _scalar(value)
        elif p.location == "body":
            if rest is not None and rest.body == "whole":
                whole = value
            else:
                body[wire] = value
    path = itf.path
    for name, encoded in path_values.items():
        path = path.replace("{" + name + "}", encoded)
    if rest is not None and rest.auth.type == "apiKey" and api_key:
        if rest.auth.location == "query":
            query.append((rest.auth.name, api_key))
        else:
            headers[rest.auth.name] = api_key
    url = base + path + (("?" + urlencode(query)) if query else "")
    req = RestRequest(method=itf.http_method, url=url, headers=headers)
    mode = rest.body if rest is not None else "none"
    content_type = rest.content_type if rest is not None else "application/json"
    if mode == "properties":
        req.json, req.has_body = body, True
    elif mode == "whole" and whole is not None:
        req.has_body = True
        if "json" in content_type.lower():
            req.json = whole
        else:
            req.data = whole if isinstance(whole, (str, bytes, dict)) else _scalar(whole)
            headers.setdefault("Content-Type", content_type)
    if idempotency_key and itf.http_method not in IDEMPOTENT:
        headers[IDEMPOTENCY_HEADER] = idempotency_key
    return req


# -- responses -------------------------------------------------------------------------------------------


def error_message(response: requests.Response) -> str:
    """The body's message: ``detail`` (FastAPI, Airflow), ``message``, ``error``, ``title``, else the text."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:_MAX_MESSAGE]
    if isinstance(payload, dict):
        for key in ("detail", "message", "error", "title", "error_description"):
            value = payload.get(key)
            if isinstance(value, dict) and "message" in value:
                value = value["message"]
            if value not in (None, ""):
                text = value if isinstance(value, str) else json.dumps(value)
                return text[:_MAX_MESSAGE]
    return json.dumps(payload)[:_MAX_MESSAGE]


def entity_output(callback: str, response: requests.Response) -> dict[str, Any]:
    """One entity's output: the response's JSON (``result`` when it is not an object), or a failure."""
    status = response.status_code
    if 200 <= status < 300:
        values: dict[str, Any] = {}
        if response.content:
            try:
                payload = response.json()
            except ValueError:
                payload = response.text
            values = dict(payload) if isinstance(payload, dict) else {"result": payload}
        return {**values, CALLBACK: callback, "errorCode": "0", "errorMessage": ""}
    return {
        CALLBACK: callback,
        "errorCode": str(status),
        "errorMessage": f"HTTP {status} {response.reason}: {error_message(response)}",
        "httpStatus": status,
    }


# -- the call --------------------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off", "n")


def call_rest(hook: WeCubePluginHook, service: Service, inputs: Any, *, request_id: str) -> PluginResult:
    """Call a REST service for each entity with the hook's connection; see the module docstring."""
    from airflow_wecube.hooks.plugin import MASK, PluginResult, mask_secret
    from airflow_wecube.util.http_limits import LimitedAdapter, Limits, ResponseTooLarge

    itf = service.interface
    entities = prepare_rest(service, inputs)
    for p in itf.inputs:
        if p.sensitive:
            for e in entities:
                mask_secret(e.get(p.name))
    conn = hook._connection()  # read once per hook, as for WeCube services
    extra = conn.extra_dejson
    session = hook._session()
    rest = itf.rest
    bearer = rest is None or rest.auth.type == "bearer"
    if not bearer:  # an API key goes only where the document names it; "none": nothing at all
        mask_secret(conn.password)  # an API key in the query is part of the URL: keep it out of any log
    deadline, max_bytes = hook._limits(extra)
    at = time.monotonic() + deadline  # one deadline for the whole call: every entity, retries included
    limited = isinstance(hook.adapter, LimitedAdapter)
    base = base_url(hook.base_url, bool(conn.host), rest.server_url if rest else "")
    timeout = float(hook._setting("timeout", hook.timeout, extra, 60))
    retries = int(hook._setting("retry_limit", hook.retry_limit, extra, 3))
    delay = float(hook._setting("retry_delay", hook.retry_delay, extra, 1.0))
    idempotency = _truthy(extra.get(IDEMPOTENCY_EXTRA, True))
    workers = max(1, min(int(extra.get(CONCURRENCY_EXTRA, DEFAULT_CONCURRENCY)), len(entities)))
    retry_allowed = itf.http_method in IDEMPOTENT or idempotency
    send_options = {
        "check_response": False,
        # an adapter of the caller's own (HttpHook's adapter=) knows no deadline: per-read timeout only
        "timeout": Limits(timeout=timeout, deadline=deadline, at=at, max_bytes=max_bytes) if limited else timeout,
        "allow_redirects": hook.merged_extra.get("allow_redirects", True),
    }
    hook.log.info(
        "Calling %s (REST %s %s%s) for %d entit%s, requestId=%s",
        service.name,
        itf.http_method,
        base,
        itf.path,
        len(entities),
        "y" if len(entities) == 1 else "ies",
        request_id,
    )

    def one(entity: dict[str, Any]) -> dict[str, Any]:
        callback = entity[CALLBACK]
        key = request_id if len(entities) == 1 else f"{request_id}:{callback}"
        req = build_request(
            service, entity, base=base, api_key=conn.password, idempotency_key=key if idempotency else None
        )
        last = ""
        for attempt in range(retries + 1 if retry_allowed else 1):
            if attempt:
                hook.log.warning("Retry %d/%d of %s for %s after: %s", attempt, retries, service.name, callback, last)
                time.sleep(max(0.0, min(delay * 2 ** (attempt - 1), at - time.monotonic())))
            if time.monotonic() >= at:
                last = f"no complete answer within the {deadline:g} s deadline" + (f" ({last})" if last else "")
                break
            prepared = session.prepare_request(_requests_request(req))
            prepared.url = req.url  # as built: requests would un-escape %2E and let '..' climb the path
            if not bearer:
                prepared.headers.pop("Authorization", None)
            try:
                response = hook.run_and_check(session, prepared, send_options)
            except ResponseTooLarge as e:
                return {CALLBACK: callback, "errorCode": "too_large", "errorMessage": str(e)}
            except Exception as e:  # connection refused, timeout, TLS...
                if not _is_connection_error(e):
                    raise
                last = f"{type(e).__name__}: {e}"
                continue
            if response.status_code >= 500 and attempt < retries and retry_allowed:
                last = f"HTTP {response.status_code} {response.reason}"
                continue
            return entity_output(callback, response)
        return {
            CALLBACK: callback,
            "errorCode": "connection",
            "errorMessage": f"no answer after {attempt + 1} attempt(s): {last}",
        }

    if workers == 1:
        outputs = [one(e) for e in entities]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wecube-rest") as pool:
            outputs = list(pool.map(one, entities))  # map keeps input order
    sensitive_out = {p.name for p in itf.outputs if p.sensitive} | itf.sensitive_inputs
    for o in outputs:
        for name in sensitive_out & o.keys():
            mask_secret(o[name])
            o[name] = MASK
    failed = [o for o in outputs if o.get("errorCode") != "0"]
    result = PluginResult(
        service=service.name,
        request_id=request_id,
        result_code="0" if not failed else "1",
        result_message="success" if not failed else f"{len(failed)} of {len(outputs)} request(s) failed",
        outputs=outputs,
        failed=failed,
    )
    if failed:
        details = "; ".join(f"{o.get(CALLBACK)}: {o.get('errorMessage', '')}" for o in failed)
        raise WeCubePluginError(
            f"{service.name}: {result.result_message} [{details}]",
            result=result,
            status_code=next((o["httpStatus"] for o in failed if "httpStatus" in o), None),
        )
    return result


def _requests_request(req: RestRequest):
    import requests

    return requests.Request(req.method, req.url, headers=req.headers, json=req.json, data=req.data)


def _is_connection_error(e: Exception) -> bool:
    import requests

    return isinstance(e, (requests.ConnectionError, requests.Timeout))
