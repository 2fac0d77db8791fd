"""Call a registered WeCube plugin interface over HTTP (DESIGN §4)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from pydantic import ValidationError
from requests.auth import AuthBase
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

from airflow_wecube.config import http_limits
from airflow_wecube.exceptions import WeCubePluginError
from airflow_wecube.protocol.request_ids import task_request_id
from airflow_wecube.protocol.validation import CALLBACK, normalise_inputs, validate_inputs
from airflow_wecube.protocol.wire import PluginRequest, PluginResponse, match_outputs, output_failed
from airflow_wecube.registry import Registry, Service
from airflow_wecube.registry.models import interface_path_problem
from airflow_wecube.util.http_limits import LimitedAdapter, Limits, ResponseTooLarge

# Connection extras that are ours, not HTTP headers (HttpHook sends unknown extras as headers).
OWN_EXTRAS = frozenset(
    {
        "operator",
        "timeout",
        "retry_limit",
        "retry_delay",
        "deadline",
        "max_response_bytes",
        "rest_concurrency",
        "idempotency_key",
    }
)
# Extras whose names look like credentials are never sent as headers: the token goes only in
# ``Authorization``, from the connection password.
SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "private_key",
    "credential",
    "bearer",
)
MASK = "***"


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``; the token never appears in ``repr``."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "BearerAuth(***)"


@dataclass
class PluginResult:
    """What one plugin call returned.

    :param outputs: one dict per entity, in input order (sensitive output values masked); an
        entity the plugin did not answer for has a failed output ("no output for callbackParameter b")
    :param failed: the outputs whose ``errorCode`` is not ``"0"``
    :param unexpected: outputs matching no input (or a second one for an input): they fail the call
    """

    service: str
    request_id: str
    result_code: str
    result_message: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result_code == "0" and not self.failed and not self.unexpected

    def unexpected_note(self) -> str:
        """The outputs matching no input, in words ("" when none)."""
        if not self.unexpected:
            return ""
        seen = {str(o.get(CALLBACK)) for o in self.outputs}
        names = [
            f"{o.get(CALLBACK)}" + (" (a second output)" if str(o.get(CALLBACK)) in seen else "")
            for o in self.unexpected
        ]
        return f"plugin answered for unknown callbackParameter(s) {', '.join(names)}"

    def problems(self) -> str:
        """Each failed entity and each unexpected output, in one line."""
        parts = [f"{o.get(CALLBACK)}: {o.get('errorMessage', '')}" for o in self.failed]
        return "; ".join(parts + ([self.unexpected_note()] if self.unexpected else []))

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if not output_failed(o)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask_secret(value: Any) -> None:
    """Register a value with Airflow's secrets masker (logs, rendered fields)."""
    if value in (None, ""):
        return
    from airflow.sdk.log import mask_secret as _mask

    _mask(value)


class WeCubePluginHook(HttpHook):
    """Speak the WeCube plugin protocol to a plugin whose manifest is in the registry.

    The connection (type ``wecube``) holds the plugin's base URL as host and its bearer token as
    password. Inputs are validated against the manifest before any request is sent.

    :param wecube_conn_id: connection to the plugin (default ``wecube_default``)
    :param registry: the plugin registry (default: :func:`airflow_wecube.config.registry_path`)
    :param retry_limit: retries after a connection error or HTTP 5xx (same ``requestId`` each time);
        else the connection extra ``retry_limit``, else 3
    :param retry_delay: seconds before the first retry, doubling each time; else extra ``retry_delay``, else 1
    :param timeout: seconds for connecting and for each read; else extra ``timeout``, else 60
    :param deadline: seconds for the whole call: connect, send and the full answer, retries included
        (a server that trickles bytes cannot hold the task); else extra ``deadline``, else
        ``[wecube] http_deadline``, else 300
    :param max_response_bytes: largest answer accepted; else extra ``max_response_bytes``, else
        ``[wecube] http_max_response_bytes``, else 64 MiB
    """

    conn_name_attr = "wecube_conn_id"
    default_conn_name = "wecube_default"
    conn_type = "wecube"
    hook_name = "WeCube plugin"

    def __init__(
        self,
        wecube_conn_id: str = default_conn_name,
        *,
        registry: Registry | None = None,
        retry_limit: int | None = None,
        retry_delay: float | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        max_response_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("adapter") is None:  # HttpHook's keep-alive socket options, plus the deadline and size cap
            keep_alive = kwargs.get("tcp_keep_alive", True)
            kwargs["adapter"] = (
                _KeepAliveLimitedAdapter(idle=120, count=20, interval=30) if keep_alive else LimitedAdapter()
            )
        super().__init__(method="POST", http_conn_id=wecube_conn_id, **kwargs)
        self.wecube_conn_id = wecube_conn_id
        self._registry = registry
        self.retry_limit = retry_limit
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self._conn_cache = None
        self._session_cache: requests.Session | None = None
        self._limits_cache: tuple[float, int] | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from airflow_wecube.config import default_registry

            self._registry = default_registry()
        return self._registry

    # -- HttpHook customisation ------------------------------------------------------------
    def _configure_session_from_auth(self, session, connection):
        self._conn_cache = connection  # get_conn() read it: keep it, the call needs its extras too
        # The token is the password; login is unused. Never basic auth: the token is no password.
        session.auth = BearerAuth(connection.password) if connection.password else None
        return session

    def _configure_session_from_extra(self, session, connection, extra_options):
        extra = {}
        for key, value in connection.extra_dejson.items():
            if key in OWN_EXTRAS:
                continue
            if any(word in key.lower().replace("-", "_") for word in SECRET_WORDS):
                self.log.warning("Connection extra %r looks like a credential: not sent as an HTTP header", key)
                continue
            extra[key] = value
        shim = SimpleNamespace(extra_dejson=extra, host=connection.host)
        return super()._configure_session_from_extra(session, shim, extra_options)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from airflow_wecube.get_provider_info import get_provider_info

        for ct in get_provider_info()["connection-types"]:
            if ct["connection-type"] == cls.conn_type:
                return ct["ui-field-behaviour"]
        return {}

    # -- the protocol ----------------------------------------------------------------------
    def prepare(
        self, service: str | Service, inputs: dict[str, Any] | list[dict[str, Any]], *, version: str | None = None
    ) -> tuple[Service, list[dict[str, Any]]]:
        """Resolve the service and validate inputs; raises before any HTTP call."""
        svc = service if isinstance(service, Service) else self.registry.service(service, version)
        if problem := interface_path_problem(svc.path):  # again here: a Service need not come from a manifest
            raise WeCubePluginError(
                f"{svc.name}: refused to call interface path {svc.path!r}: {problem}; fix the path in the manifest"
                " and register it again"
            )
        entities = normalise_inputs(inputs)
        validate_inputs(svc, entities)
        for p in svc.interface.inputs:
            if p.sensitive:
                for e in entities:
                    mask_secret(e.get(p.name))
        return svc, entities

    def call(
        self,
        service: str | Service,
        inputs: dict[str, Any] | list[dict[str, Any]],
        *,
        version: str | None = None,
        request_id: str | None = None,
        operator: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> PluginResult:
        """Call one interface for one or many entities in a single request.

        :param service: ``package/plugin/action`` (``package@version/...`` pins a version)
        :param inputs: a dict (one entity) or a list of dicts (one per entity)
        :param request_id: stable id for retries and de-duplication (default: inside a task, an id
            derived from the task instance and the call's rank, the same in every try; else a new UUID)
        :param extra_body: more top-level request fields (``allowedOptions``, ``dueDate`` of async calls)
        :return: the outputs in input order; raises :class:`WeCubePluginError` on failure. For an
            asynchronous interface that is the acknowledgement; the result comes by callback.
        """
        if not isinstance(service, Service):
            service = self.registry.service(service, version)
        if service.interface.protocol == "rest":  # an OpenAPI operation: plain REST, one request per entity
            from airflow_wecube.protocol.rest import call_rest

            return call_rest(self, service, inputs, request_id=request_id or task_request_id(service.name))
        svc, entities = self.prepare(service, inputs, version=version)
        extra = self._connection().extra_dejson
        request_id = request_id or task_request_id(svc.name)
        body = PluginRequest(
            requestId=request_id,
            operator=operator or extra.get("operator") or "airflow",
            serviceName=svc.name,
            inputs=entities,
            **(extra_body or {}),
        ).to_wire()
        self.log.info(
            "Calling %s (%s %s) for %d entit%s, requestId=%s",
            svc.name,
            svc.method,
            svc.path,
            len(entities),
            "y" if len(entities) == 1 else "ies",
            request_id,
        )
        response = self._send(svc, body, extra)
        return self._result(svc, request_id, entities, response)

    @staticmethod
    def _setting(name: str, explicit: Any, extra: dict[str, Any], default: Any) -> Any:
        """An argument given to the hook wins over the connection extra, which wins over the default."""
        if explicit is not None:
            return explicit
        return extra.get(name, default)

    def _session(self) -> requests.Session:
        """The HTTP session, built (and the connection read) once per hook, not once per call."""
        if self._session_cache is None:
            self._session_cache = self.get_conn()
        return self._session_cache

    def _connection(self):
        self._session()
        return self._conn_cache

    def _limits(self, extra: dict[str, Any]) -> tuple[float, int]:
        """(deadline seconds, answer size cap): read once per hook, like the connection."""
        if self._limits_cache is None:
            try:
                self._limits_cache = http_limits(extra, deadline=self.deadline, max_bytes=self.max_response_bytes)
            except ValueError as e:
                raise WeCubePluginError(f"connection {self.wecube_conn_id!r}: {e}") from None
        return self._limits_cache

    def _send(self, svc: Service, body: dict[str, Any], extra: dict[str, Any]) -> requests.Response:
        timeout = float(self._setting("timeout", self.timeout, extra, 60))
        retries = int(self._setting("retry_limit", self.retry_limit, extra, 3))
        delay = float(self._setting("retry_delay", self.retry_delay, extra, 1.0))
        deadline, max_bytes = self._limits(extra)
        session = self._session()
        url = self.url_from_endpoint(svc.path)
        allow_redirects = self.merged_extra.get("allow_redirects", True)
        limited = isinstance(self.adapter, LimitedAdapter)
        at = time.monotonic() + deadline  # one deadline for the whole call, retries included
        last: str = ""
        for attempt in range(retries + 1):
            if attempt:
                self.log.warning("Retry %d/%d of %s after: %s", attempt, retries, svc.name, last)
                time.sleep(max(0.0, min(delay * 2 ** (attempt - 1), at - time.monotonic())))
            if time.monotonic() >= at:
                break
            # an adapter of the caller's own (HttpHook's adapter=) knows no deadline: per-read timeout only
            limits = Limits(timeout=timeout, deadline=deadline, at=at, max_bytes=max_bytes) if limited else timeout
            try:
                response = session.request(svc.method, url, json=body, timeout=limits, allow_redirects=allow_redirects)
            except ResponseTooLarge as e:
                raise WeCubePluginError(f"{svc.name}: {e}") from None
            except (requests.ConnectionError, requests.Timeout) as e:
                last = f"{type(e).__name__}: {e}"
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code} {response.reason}"
                continue
            if response.status_code >= 400:
                raise WeCubePluginError(
                    f"{svc.name}: HTTP {response.status_code} {response.reason}: {response.text[:500]}",
                    status_code=response.status_code,
                )
            return response
        else:
            raise WeCubePluginError(f"{svc.name}: failed after {retries + 1} attempts: {last}")
        raise WeCubePluginError(
            f"{svc.name}: no complete answer within the {deadline:g} s deadline (connection extra 'deadline', "
            f"[wecube] http_deadline) after {attempt} attempt(s): {last}"
        )

    def _result(self, svc, request_id, entities, response: requests.Response) -> PluginResult:
        try:
            payload = response.json()
        except ValueError:
            raise WeCubePluginError(
                f"{svc.name}: plugin answered HTTP {response.status_code} with a body that is not JSON: "
                f"{response.text[:200]!r}",
                status_code=response.status_code,
            ) from None
        return result_from_payload(svc, request_id, entities, payload, status_code=response.status_code)

    def test_connection(self) -> tuple[bool, str]:
        try:
            conn = self.get_connection(self.wecube_conn_id)
            self._set_base_url(conn)
            r = requests.get(self.base_url.rstrip("/") + "/health", timeout=10)
            return (r.ok, f"{self.base_url}/health answered HTTP {r.status_code}")
        except Exception as e:
            return False, str(e)


def result_from_payload(
    svc: Service,
    request_id: str,
    entities: list[dict[str, Any]],
    payload: Any,
    *,
    status_code: int | None = None,
    success_code: str = "0",
) -> PluginResult:
    """The protocol's failure rules on an answer (or a callback) body; raises :class:`WeCubePluginError`.

    :param success_code: the ``resultCode`` that means success (an APPROVAL callback's chosen option)
    """
    try:
        parsed = PluginResponse.model_validate(payload)
    except ValidationError as e:
        raise WeCubePluginError(
            f"{svc.name}: the answer is not the WeCube plugin protocol ({e.error_count()} problem(s), "
            f"e.g. {e.errors()[0]['loc']}: {e.errors()[0]['msg']}): {str(payload)[:200]}",
            status_code=status_code,
        ) from None
    outputs, unexpected = match_outputs([e[CALLBACK] for e in entities], parsed.outputs)
    sensitive_out = {p.name for p in svc.interface.outputs if p.sensitive} | svc.interface.sensitive_inputs
    for o in outputs + unexpected:
        for name in sensitive_out & o.keys():
            mask_secret(o[name])
            o[name] = MASK
    result = PluginResult(
        service=svc.name,
        request_id=request_id,
        result_code="0" if str(parsed.result_code) == success_code else str(parsed.result_code),
        result_message=parsed.result_message,
        outputs=outputs,
        failed=[o for o in outputs if output_failed(o)],
        unexpected=unexpected,
    )
    if not result.ok:  # resultCode not "0", an entity failed or unanswered, or an unknown output
        details = result.problems()
        raise WeCubePluginError(
            f"{svc.name}: resultCode {result.result_code}: {result.result_message}"
            + (f" [{details}]" if details else ""),
            result=result,
            status_code=status_code,
        )
    return result


class _KeepAliveLimitedAdapter(LimitedAdapter, TCPKeepAliveAdapter):
    """HttpHook's default keep-alive adapter, with a deadline and a size cap."""
