"""Prometheus hook: PromQL queries, file_sd target registration and rule groups.

Importing this module stays light (no pandas, no requests session) so DAG files can import it at
parse time; pandas is imported inside the methods that build frames.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_wecube.config import DEFAULT_HTTP_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, airflow_option, http_limits
from airflow_wecube.files import atomic_write_text, locked
from airflow_wecube.prometheus import file_sd
from airflow_wecube.prometheus import rules as rule_files
from airflow_wecube.prometheus.errors import (
    PrometheusConfigError,
    PrometheusError,
    PrometheusQueryError,
    PrometheusRuleError,
    PrometheusUnreachableError,
)
from airflow_wecube.prometheus.ranges import MAX_POINTS, split_range
from airflow_wecube.prometheus.timeutil import duration_ms, format_ms, to_ms, to_unix

if TYPE_CHECKING:
    import pandas as pd
    import requests
    from prometheus_api_client import PrometheusConnect

    from airflow_wecube.prometheus.conditions import ConditionResult

TimeLike = datetime | int | float | str
StepLike = str | int | float

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off", ""}


def _as_bool(value: Any, name: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PrometheusConfigError(f"connection extra {name!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class PrometheusSettings:
    """What a ``prometheus`` connection says, resolved (secrets kept out of ``repr``)."""

    url: str
    verify: bool | str = True
    timeout: float = 30.0
    #: retries of a write's Prometheus step (confirm, reload) while Prometheus is down or starting
    retry_limit: int = 4
    #: seconds before the first of those retries, doubling each time
    retry_delay: float = 1.0
    file_sd_dir: str | None = None
    rules_dir: str | None = None
    promtool: str | None = None
    auth: tuple[str, str] | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    #: seconds for a whole request: connect, send and the full answer (extra ``deadline``)
    deadline: float = DEFAULT_HTTP_DEADLINE
    #: largest answer accepted (extra ``max_response_bytes``)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @classmethod
    def from_connection(cls, conn: Any) -> PrometheusSettings:
        """Build from an Airflow connection.

        ``host`` is the full URL (``http://127.0.0.1:9090``, a path prefix allowed); a bare host
        with ``port`` and ``schema`` (http/https) works too. ``login``/``password`` are basic auth,
        or ``password`` alone is a bearer token when extra ``bearer_token`` is true.
        """
        extra = conn.extra_dejson or {}
        host = (conn.host or "").strip()
        if not host:
            raise PrometheusConfigError(f"connection {conn.conn_id!r} has no host (the Prometheus URL)")
        if "://" in host:
            url = host.rstrip("/")
            if conn.port and not re.match(r"^[a-z]+://[^/]*:\d+", url, re.IGNORECASE):
                scheme, rest = url.split("://", 1)
                netloc, _, path = rest.partition("/")
                url = f"{scheme}://{netloc}:{conn.port}" + (f"/{path}" if path else "")
        else:
            scheme = (conn.schema or "http").lower()
            if scheme not in ("http", "https"):
                scheme = "http"
            url = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
            url = url.rstrip("/")
        verify_raw = extra.get("verify")
        if isinstance(verify_raw, str) and verify_raw.strip().lower() not in _TRUE | _FALSE:
            verify: bool | str = verify_raw  # a CA bundle path
        else:
            verify = _as_bool(verify_raw, "verify", True)
        auth = None
        headers: dict[str, str] = {}
        if _as_bool(extra.get("bearer_token"), "bearer_token", False):
            if not conn.password:
                raise PrometheusConfigError(f"connection {conn.conn_id!r}: bearer_token is set but password is empty")
            headers["Authorization"] = f"Bearer {conn.password}"
        elif conn.login:
            auth = (conn.login, conn.password or "")
        try:
            timeout = float(extra.get("timeout") or 30.0)
        except (TypeError, ValueError):
            raise PrometheusConfigError(f"connection extra 'timeout' must be seconds, got {extra.get('timeout')!r}") from None
        try:
            deadline, max_response_bytes = http_limits(extra)
        except ValueError as exc:
            raise PrometheusConfigError(f"connection {conn.conn_id!r}: {exc}") from None
        return cls(
            url=url,
            verify=verify,
            timeout=timeout,
            **_retry_settings(extra),
            file_sd_dir=extra.get("file_sd_dir") or airflow_option("file_sd_dir"),
            rules_dir=extra.get("rules_dir") or airflow_option("rules_dir"),
            promtool=extra.get("promtool") or None,
            auth=auth,
            headers=headers,
            deadline=deadline,
            max_response_bytes=max_response_bytes,
        )


def _retry():
    """Few quick retries on a proxy hiccup or a Prometheus still starting (503); no long backoff."""
    from urllib3.util.retry import Retry

    return Retry(
        total=2,
        connect=1,
        backoff_factor=0.2,
        status_forcelist=[502, 503, 504],
        allowed_methods=None,
        raise_on_status=False,
    )


def _retry_settings(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Extras ``retry_limit`` (0-20, default 4) and ``retry_delay`` (seconds, 0-60, default 1), checked."""
    out: dict[str, Any] = {}
    raw = extra.get("retry_limit")
    if raw is not None and raw != "":
        try:
            out["retry_limit"] = int(str(raw).strip())
        except ValueError:
            out["retry_limit"] = -1
        if isinstance(raw, bool) or not 0 <= out["retry_limit"] <= 20:
            raise PrometheusConfigError(f"connection extra 'retry_limit' must be a whole number from 0 to 20, got {raw!r}")
    raw = extra.get("retry_delay")
    if raw is not None and raw != "":
        try:
            out["retry_delay"] = float(str(raw).strip())
        except ValueError:
            out["retry_delay"] = -1.0
        if isinstance(raw, bool) or not 0 <= out["retry_delay"] <= 60:
            raise PrometheusConfigError(f"connection extra 'retry_delay' must be seconds from 0 to 60, got {raw!r}")
    return out


#: HTTP answers of a Prometheus (or its proxy) that is starting or restarting: worth another try
_TRANSIENT_STATUS = frozenset({502, 503, 504})


def _transient(exc: PrometheusError) -> bool:
    """Whether ``exc`` says Prometheus is away for now (no answer, or 502/503/504), not that it refused."""
    return isinstance(exc, PrometheusUnreachableError) or (
        type(exc) is PrometheusError and exc.status_code in _TRANSIENT_STATUS
    )


def _error_message(body: Any) -> tuple[str | None, str | None]:
    """(errorType, error) from a Prometheus error body (bytes, str or dict)."""
    try:
        if isinstance(body, (bytes, str)):
            body = json.loads(body)
        if isinstance(body, dict) and body.get("error"):
            return body.get("errorType"), str(body["error"])
    except (ValueError, TypeError):
        pass
    return None, None


def _query_error(status: int | None, body: Any, promql: str) -> PrometheusError:
    """The error for a refused query, with Prometheus's own ``errorType`` and message."""
    error_type, message = _error_message(body)
    if message is None:
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
        message = text.strip()[:2000] or "(empty body)"
    cls = PrometheusQueryError if status in (400, 422) else PrometheusError
    return cls(
        f"Prometheus refused query {promql!r} (HTTP {status}"
        + (f", {error_type}" if error_type else "")
        + f"): {message}",
        status_code=status,
        error_type=error_type,
    )


@lru_cache(maxsize=1)
def _range_decoder():
    """msgspec decoder for a ``query_range`` answer: one pass from bytes to typed structs."""
    import msgspec

    # defstruct, not class bodies: this module's postponed annotations would not resolve here
    series = msgspec.defstruct("Series", [("metric", dict[str, str], {}), ("values", list[tuple[float, str]], [])])
    data = msgspec.defstruct("Data", [("result", list[series], [])])
    body = msgspec.defstruct("Body", [("status", str), ("data", data | None, None)])
    return msgspec.json.Decoder(body)


def _limit_error(exc: Exception) -> PrometheusError:
    """A request past its deadline (no answer in time) or an answer past the size cap."""
    from airflow_wecube.http_limits import DeadlineExceeded

    cls = PrometheusUnreachableError if isinstance(exc, DeadlineExceeded) else PrometheusError
    return cls(f"Prometheus: {exc}")


def _from_client_exception(exc: Exception, promql: str) -> PrometheusError:
    """Turn prometheus-api-client's ``HTTP Status Code N (b'...')`` into Prometheus's own message."""
    text = str(exc)
    match = re.match(r"^HTTP Status Code (\d+) \((.*)\)$", text, re.DOTALL)
    status = int(match.group(1)) if match else None
    body: Any = None
    if match:
        try:
            body = ast.literal_eval(match.group(2))
        except (ValueError, SyntaxError):
            body = match.group(2)
    return _query_error(status, body if match else text, promql)


def series_name(labels: Mapping[str, str]) -> str:
    """``metric{a="b",c="d"}`` (labels sorted): the column name of a series."""
    labels = dict(labels)
    name = labels.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def parse_instant_result(data: Any) -> list[dict[str, Any]]:
    """Normalise ``data.result`` of an instant query into ``[{labels, value, timestamp}]``.

    A scalar becomes one series with no labels; a range-vector selector keeps ``values``
    (``[(timestamp, value), ...]``) with ``value`` the last one.
    """
    result_type = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else data
    if result_type in ("scalar", "string") or (
        isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict)
    ):
        ts, value = result
        return [{"labels": {}, "value": _to_float(value), "timestamp": float(ts)}]
    out = []
    for item in result or []:
        if "values" in item:
            values = [(float(t), _to_float(v)) for t, v in item["values"]]
            ts, value = values[-1] if values else (None, float("nan"))
            out.append({"labels": dict(item.get("metric", {})), "value": value, "timestamp": ts, "values": values})
        else:
            ts, value = item["value"]
            out.append({"labels": dict(item.get("metric", {})), "value": _to_float(value), "timestamp": float(ts)})
    return out


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class PrometheusHook(BaseHook):
    """Talk to Prometheus: PromQL queries, file_sd targets and rule groups.

    :param prometheus_conn_id: the ``prometheus`` connection: URL, optional basic auth or bearer
        token, TLS ``verify``, and extras ``file_sd_dir`` / ``rules_dir`` (falling back to
        ``[wecube] file_sd_dir`` / ``rules_dir``) for the folders Prometheus reads.
    """

    conn_name_attr = "prometheus_conn_id"
    default_conn_name = "prometheus_default"
    conn_type = "prometheus"
    hook_name = "Prometheus"

    def __init__(self, prometheus_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prometheus_conn_id = prometheus_conn_id

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def settings(self) -> PrometheusSettings:
        """The resolved connection (read once per hook)."""
        return PrometheusSettings.from_connection(self.get_connection(self.prometheus_conn_id))

    @cached_property
    def _session(self) -> requests.Session:
        import requests

        from airflow_wecube.http_limits import LimitedAdapter

        session = requests.Session()
        session.verify = self.settings.verify
        session.headers.update(self.settings.headers)
        if self.settings.auth:
            session.auth = self.settings.auth
        # the deadline bounds connect + send + full body (a trickling server cannot hold the task)
        adapter = LimitedAdapter(
            max_retries=_retry(), deadline=self.settings.deadline, max_bytes=self.settings.max_response_bytes
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def get_conn(self) -> PrometheusConnect:
        """A ``prometheus_api_client.PrometheusConnect`` on this connection (shared HTTP session)."""
        from prometheus_api_client import PrometheusConnect

        client = PrometheusConnect(
            url=self.settings.url,
            session=self._session,
            retry=_retry(),
            headers=dict(self.settings.headers) or None,
            auth=self.settings.auth,
            timeout=self.settings.timeout,
        )
        self._session.mount(client.url, self._session.adapters["http://"])  # it mounted a plain adapter there
        return client

    @cached_property
    def client(self) -> PrometheusConnect:
        """The cached :meth:`get_conn` client."""
        return self.get_conn()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        import requests

        from airflow_wecube.http_limits import DeadlineExceeded, ResponseTooLarge

        url = f"{self.settings.url}{path}"
        # verify per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify
        kwargs.setdefault("verify", self.settings.verify)
        try:
            return self._session.request(method, url, timeout=self.settings.timeout, **kwargs)
        except (DeadlineExceeded, ResponseTooLarge) as exc:
            raise _limit_error(exc) from None
        except requests.exceptions.RequestException as exc:
            raise PrometheusUnreachableError(f"Prometheus at {self.settings.url} is unreachable: {exc}") from None

    def _api(self, path: str, **params: Any) -> Any:
        """GET ``/api/v1/<path>`` and return ``data``; errors carry Prometheus's message."""
        response = self._request("GET", f"/api/v1/{path}", params=params or None)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error_type, message = _error_message(body)
            raise PrometheusError(
                f"Prometheus /api/v1/{path} answered HTTP {response.status_code}: "
                f"{message or response.text[:500].strip()}",
                status_code=response.status_code,
                error_type=error_type,
            )
        return body.get("data")

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: ask for the build info."""
        try:
            info = self._api("status/buildinfo")
        except PrometheusError as exc:
            return False, str(exc)
        return True, f"Connected to Prometheus {info.get('version', '?')} at {self.settings.url}"

    # -- queries ------------------------------------------------------------------------------

    def _query_call(self, fn, promql: str, *args: Any, **kwargs: Any) -> Any:
        import requests
        from prometheus_api_client import PrometheusApiClientException

        from airflow_wecube.http_limits import DeadlineExceeded, ResponseTooLarge

        if not isinstance(promql, str) or not promql.strip():
            raise PrometheusQueryError(f"PromQL must be a non-empty string, got {promql!r}")
        try:
            return fn(promql, *args, **kwargs)
        except PrometheusApiClientException as exc:
            raise _from_client_exception(exc, promql) from None
        except (DeadlineExceeded, ResponseTooLarge) as exc:
            raise _limit_error(exc) from None
        except requests.exceptions.RequestException as exc:
            raise PrometheusUnreachableError(f"Prometheus at {self.settings.url} is unreachable: {exc}") from None

    def query(self, promql: str, at: TimeLike | None = None) -> list[dict[str, Any]]:
        """Instant query.

        :param promql: the PromQL expression
        :param at: evaluation time (datetime or unix seconds); default now
        :return: one dict per series: ``labels``, ``value`` (float), ``timestamp`` (unix seconds)
        """
        params = {"time": format_ms(to_ms(at))} if at is not None else None
        result = self._query_call(self.client.custom_query, promql, params=params)
        return parse_instant_result(result)

    #: chunk requests in flight at once: Prometheus evaluates (and gzips) the next chunks while
    #: this process decodes the previous ones; measured on 2 cores in bench/prometheus.md
    range_concurrency = 4

    def _range_fetch(self, promql: str, start_ms: int, end_ms: int, step: str) -> bytes:
        """One ``/api/v1/query_range`` request on the hook's session (auth, TLS, retries): the body.

        The start/end strings are the exact chunk bounds (milliseconds), not rounded to seconds.
        """
        response = self._request(
            "GET",
            "/api/v1/query_range",
            params={"query": promql, "start": format_ms(start_ms), "end": format_ms(end_ms), "step": step},
        )
        if response.status_code != 200:
            raise _query_error(response.status_code, response.content, promql)
        return response.content

    def _range_decode(self, content: bytes, promql: str) -> list[tuple[str, Any, Any]]:
        """``[(series name, ts ms int64, values float64)]`` from a ``query_range`` body.

        The body is decoded once, straight into typed structs (msgspec); the value strings
        (``"1.5"``, ``"NaN"``, ``"+Inf"``) become a float64 array in one pass.
        """
        import msgspec
        import numpy as np

        try:
            body = _range_decoder().decode(content)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise PrometheusError(
                f"Prometheus answered query {promql!r} with an unexpected body ({exc}): "
                f"{content[:200].decode(errors='replace').strip()!r}",
                status_code=200,
            ) from None
        if body.status != "success" or body.data is None:
            raise _query_error(200, content, promql)
        out = []
        for item in body.data.result:
            values = item.values
            if not values:
                continue
            n = len(values)
            ts = np.fromiter([v[0] for v in values], dtype=np.float64, count=n)
            vals = np.fromiter([v[1] for v in values], dtype=np.float64, count=n)  # "NaN", "+Inf" parse too
            out.append((series_name(item.metric), np.rint(ts * 1000).astype(np.int64), vals))
        return out

    def _range_columns_many(
        self, queries: Mapping[str, str], start: TimeLike, end: TimeLike, step: StepLike
    ) -> dict[str, dict[str, tuple]]:
        """``{key: {series name: (timestamps ms int64, values float64)}}``, chunks stitched in order.

        Up to :attr:`range_concurrency` chunk requests are in flight on worker threads (they
        mostly wait on the socket and gunzip, which frees the GIL); this thread decodes each body
        in chunk order as it arrives, so decoding does not fight the fetches for the GIL and at
        most a few bodies are held at a time.
        """
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        import numpy as np

        for promql in queries.values():
            if not isinstance(promql, str) or not promql.strip():
                raise PrometheusQueryError(f"PromQL must be a non-empty string, got {promql!r}")
        start_ms, end_ms, step_ms = to_ms(start), to_ms(end), duration_ms(step)
        if end_ms < start_ms:
            raise PrometheusQueryError(f"end ({end}) is before start ({start})")
        chunks = split_range(start_ms, end_ms, step_ms, MAX_POINTS)
        step_s = format_ms(step_ms)
        tasks = [(key, cs, ce) for key in queries for cs, ce in chunks]
        parts: dict[str, dict[str, list]] = {key: {} for key in queries}

        def add(key: str, content: bytes) -> None:
            for name, ts, vals in self._range_decode(content, queries[key]):
                parts[key].setdefault(name, []).append((ts, vals))

        workers = max(1, min(int(self.range_concurrency), len(tasks)))
        if workers == 1:
            for key, cs, ce in tasks:
                add(key, self._range_fetch(queries[key], cs, ce, step_s))
        else:
            pending: deque = deque()
            todo = iter(tasks)
            with ThreadPoolExecutor(max_workers=workers) as pool:

                def submit_next() -> None:
                    task = next(todo, None)
                    if task is not None:
                        key, cs, ce = task
                        pending.append((key, pool.submit(self._range_fetch, queries[key], cs, ce, step_s)))

                try:
                    for _ in range(workers):
                        submit_next()
                    while pending:
                        key, future = pending.popleft()
                        content = future.result()
                        submit_next()  # keep ``workers`` requests in flight while this one decodes
                        add(key, content)
                finally:
                    for _, future in pending:  # a failed chunk stops the rest
                        future.cancel()
        return {
            key: {
                name: (np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces]))
                for name, pieces in by_name.items()
            }
            for key, by_name in parts.items()
        }

    def query_range(self, promql: str, start: TimeLike, end: TimeLike, step: StepLike) -> pd.DataFrame:
        """Range query into a frame: UTC ``DatetimeIndex`` named ``timestamp``, one column per series.

        Ranges longer than Prometheus's 11,000 points per series are split on the step grid and
        stitched: every instant once, none missing.

        :param start: first instant (datetime, unix seconds or ISO 8601)
        :param end: last instant (inclusive)
        :param step: seconds or a Prometheus duration (``"15s"``, ``"1m"``)
        """
        columns = self._range_columns_many({"q": promql}, start, end, step)["q"]
        return _frame({name: columns[name] for name in sorted(columns)})

    def query_range_frame(
        self, queries: Mapping[str, str], start: TimeLike, end: TimeLike, step: StepLike
    ) -> pd.DataFrame:
        """Several range queries into one aligned frame, one column per name.

        Each query must return exactly one series (aggregate it, e.g. ``sum(...)``); instants
        where a query has no sample are NaN.

        :param queries: ``{column name: promql}``
        """
        if not isinstance(queries, Mapping) or not queries:
            raise PrometheusQueryError("queries must be a non-empty mapping of column name to PromQL")
        columns = {}
        fetched = self._range_columns_many(queries, start, end, step)
        for name, promql in queries.items():
            got = fetched[name]
            if len(got) != 1:
                shown = ", ".join(sorted(got)[:5]) + (" ..." if len(got) > 5 else "")
                raise PrometheusQueryError(
                    f"query {name!r} ({promql}) returned {len(got)} series, expected exactly 1"
                    + (f": {shown}" if got else "")
                    + "; aggregate it (e.g. sum(...)) or narrow its labels"
                )
            columns[name] = next(iter(got.values()))
        return _frame(columns)

    async def aquery(self, promql: str, at: TimeLike | None = None) -> list[dict[str, Any]]:
        """Async instant query (for triggers), same result as :meth:`query`."""
        import httpx

        from airflow_wecube.http_limits import DeadlineExceeded, ResponseTooLarge

        if not isinstance(promql, str) or not promql.strip():
            raise PrometheusQueryError(f"PromQL must be a non-empty string, got {promql!r}")
        settings = PrometheusSettings.from_connection(await self.aget_connection(self.prometheus_conn_id))
        params = {"query": promql}
        if at is not None:
            params["time"] = format_ms(to_ms(at))
        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient(
                verify=settings.verify, headers=settings.headers, auth=settings.auth, timeout=settings.timeout
            ) as client, client.stream("GET", f"{settings.url}/api/v1/query", params=params) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > settings.max_response_bytes:
                        raise ResponseTooLarge(
                            f"the answer from {settings.url}/api/v1/query is larger than the "
                            f"{settings.max_response_bytes} bytes allowed (connection extra 'max_response_bytes')"
                        )
                return httpx.Response(response.status_code, content=bytes(body))  # already decoded

        try:
            response = await asyncio.wait_for(fetch(), settings.deadline)
        except (asyncio.TimeoutError, ResponseTooLarge) as exc:
            if isinstance(exc, ResponseTooLarge):
                raise _limit_error(exc) from None
            raise _limit_error(
                DeadlineExceeded(f"no complete answer from {settings.url}/api/v1/query within the {settings.deadline:g} s deadline")
            ) from None
        except httpx.HTTPError as exc:
            raise PrometheusUnreachableError(f"Prometheus at {settings.url} is unreachable: {exc!r}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "success":
            raise _query_error(response.status_code, response.content, promql)
        return parse_instant_result(body.get("data"))

    def check(self, promql: str, condition: str) -> tuple[ConditionResult, list[dict[str, Any]]]:
        """Query now and evaluate a sensor condition (see :mod:`airflow_wecube.prometheus.conditions`)."""
        from airflow_wecube.prometheus.conditions import parse_condition

        parsed = parse_condition(condition)
        series = self.query(promql)
        return parsed.evaluate(series), series

    # -- targets (file_sd) --------------------------------------------------------------------

    def _folder(self, key: str) -> Path:
        value = getattr(self.settings, key)
        if not value:
            raise PrometheusConfigError(
                f"connection {self.prometheus_conn_id!r} has no extra {key!r} and [wecube] {key} is not set"
            )
        return Path(value)

    def active_targets(self) -> list[dict[str, Any]]:
        """``/api/v1/targets`` active targets as Prometheus lists them."""
        return list((self._api("targets", state="active") or {}).get("activeTargets") or [])

    def _listed(self, job: str) -> dict[str, dict[str, Any]]:
        listed = {}
        for t in self.active_targets():
            if (t.get("labels") or {}).get("job") == job:
                listed[(t.get("discoveredLabels") or {}).get("__address__")] = t
        return listed

    def _retrying(self, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, tried again while Prometheus is unreachable or answers 502/503/504 (a restart):
        at most connection extra ``retry_limit`` more times, ``retry_delay`` seconds apart at first,
        doubling. Any other error, and the last transient one, is raised at once."""
        retries, delay = self.settings.retry_limit, self.settings.retry_delay
        started = time.monotonic()
        for attempt in range(retries + 1):
            try:
                return fn()
            except PrometheusError as exc:
                if not _transient(exc):
                    raise
                if attempt == retries:
                    if not retries:
                        raise
                    raise type(exc)(
                        f"{what}: {exc} (after {retries + 1} attempts over {time.monotonic() - started:.0f}s;"
                        " connection extras retry_limit and retry_delay set how long to wait)",
                        status_code=exc.status_code,
                        error_type=exc.error_type,
                    ) from None
                wait = delay * 2**attempt
                self.log.warning("%s: %s; retry %d/%d in %.1fs", what, exc, attempt + 1, retries, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def wait_for_targets(self, job: str, targets: Iterable[str], *, present: bool = True, timeout: float = 60.0) -> None:
        """Wait (bounded) until Prometheus lists all ``targets`` of ``job`` (or none of them)."""
        targets = file_sd.validate_targets(targets)
        deadline = time.monotonic() + timeout
        while True:
            listed = self._retrying(f"listing the targets of job {job!r}", lambda: self._listed(job))
            missing = [t for t in targets if (t in listed) != present]
            if not missing:
                return
            if time.monotonic() >= deadline:
                state = "listed" if present else "gone"
                raise PrometheusError(
                    f"targets {missing} of job {job!r} not {state} in Prometheus's /api/v1/targets after {timeout:.0f}s; "
                    f"the file {file_sd.target_file(self._folder('file_sd_dir'), job)} was written: check that "
                    "Prometheus's file_sd_configs covers it"
                )
            time.sleep(0.5)

    def register_targets(
        self,
        job: str,
        targets: str | Iterable[str],
        labels: Mapping[str, str] | None = None,
        *,
        confirm: bool = True,
        timeout: float = 60.0,
    ) -> list[str]:
        """Add ``targets`` (``host:port``) to the file_sd file of ``job``; idempotent, under a file lock.

        :param labels: labels for these targets (``job`` is set to ``job``)
        :param confirm: wait until ``/api/v1/targets`` lists every target (bounded by ``timeout``); this
            confirms the address only, so the reserved labels (``__scheme__``, ``__metrics_path__``,
            ``__scrape_interval__``, ``__scrape_timeout__``) are checked before the file is written
        :return: the targets that were added or relabelled (empty when all were already there)
        :raises PrometheusConfigError: a bad address or label; nothing was written
        """
        targets = file_sd.validate_targets(targets)
        changed = file_sd.register(self._folder("file_sd_dir"), job, targets, labels)
        self.log.info("job %s: registered %s (already there: %s)", job, changed, [t for t in targets if t not in changed])
        if confirm:
            self.wait_for_targets(job, targets, present=True, timeout=timeout)
        return changed

    def deregister_targets(
        self, job: str, targets: str | Iterable[str], *, confirm: bool = True, timeout: float = 60.0
    ) -> list[str]:
        """Remove ``targets`` from ``job``'s file_sd file; idempotent, under a file lock.

        :param confirm: wait until ``/api/v1/targets`` no longer lists them
        :return: the targets that were removed
        """
        targets = file_sd.validate_targets(targets)
        removed = file_sd.deregister(self._folder("file_sd_dir"), job, targets)
        self.log.info("job %s: deregistered %s (not registered: %s)", job, removed, [t for t in targets if t not in removed])
        if confirm:
            self.wait_for_targets(job, targets, present=False, timeout=timeout)
        return removed

    # -- rules --------------------------------------------------------------------------------

    def reload(self) -> None:
        """``POST /-/reload`` (needs ``--web.enable-lifecycle``); raises with Prometheus's message."""
        response = self._request("POST", "/-/reload")
        if response.status_code != 200:
            raise PrometheusError(
                f"Prometheus reload failed (HTTP {response.status_code}): {response.text.strip()[:2000]}"
                + (" (is --web.enable-lifecycle set?)" if response.status_code == 403 else ""),
                status_code=response.status_code,
            )

    def rule_groups(self) -> list[dict[str, Any]]:
        """``/api/v1/rules`` groups as Prometheus lists them."""
        return list((self._api("rules") or {}).get("groups") or [])

    def _loaded_group(self, name: str) -> dict[str, Any] | None:
        for group in self.rule_groups():
            if group.get("name") == name and Path(group.get("file", "")).name == f"{name}.yml":
                return group
        return None

    def apply_rule_group(
        self,
        name: str,
        rules: Iterable[Mapping[str, Any]],
        *,
        interval: str | int | float | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Write rule group ``name`` (file ``<rules_dir>/<name>.yml``), reload Prometheus, confirm it loaded.

        The file is checked with ``promtool check rules`` before it goes live; if promtool or the
        reload refuses it, the previous file is kept (or none) and the error carries their message.

        :param rules: dicts with ``alert`` or ``record``, ``expr``, and optional ``for``, ``labels``,
            ``annotations`` (as in a Prometheus rule file)
        :param interval: evaluation interval of the group (default: Prometheus's global one)
        :return: the group as ``/api/v1/rules`` lists it
        """
        text = rule_files.render_group(name, rules, interval)
        path = rule_files.rule_file(self._folder("rules_dir"), name)
        rule_files.check_rules_text(text, promtool=self.settings.promtool, display_name=path.name)
        expected = [r.get("alert") or r.get("record") for r in rule_files.normalise_rules(rules)]
        self._swap_rule_file(
            path, text, f"Prometheus did not load rule group {name!r}; the previous file was restored"
        )
        group = self._wait_group(name, present=True, timeout=timeout)
        loaded = [r.get("name") for r in group.get("rules", [])]
        if loaded != expected:
            raise PrometheusRuleError(f"rule group {name!r} loaded with rules {loaded}, expected {expected}")
        self.log.info("rule group %s live in %s (%d rules)", name, path, len(loaded))
        return group

    def delete_rule_group(self, name: str, *, timeout: float = 30.0) -> bool:
        """Remove rule group ``name``'s file, reload, confirm it is gone; False if there was none."""
        path = rule_files.rule_file(self._folder("rules_dir"), name)
        if not self._swap_rule_file(
            path, None, f"Prometheus reload failed while removing rule group {name!r}; file restored"
        ):
            return False
        self._wait_group(name, present=False, timeout=timeout)
        self.log.info("rule group %s removed (%s)", name, path)
        return True

    def _swap_rule_file(self, path: Path, text: str | None, failure: str) -> bool:
        """Under the file's lock, put ``text`` in ``path`` (None: remove it) and reload Prometheus.

        When the reload fails, the previous file (or none) is put back and reloaded, so a refused
        group never stays live, and :class:`PrometheusRuleError` says ``failure`` and Prometheus's
        message. Returns False, without a reload, when asked to remove a file that is not there.
        """
        with locked(path, 60.0, PrometheusRuleError):
            previous = rule_files.read_text(path)
            if text is None:
                if previous is None:
                    return False
                path.unlink()
            elif previous != text:
                atomic_write_text(path, text)
            try:
                self._retrying("reloading Prometheus", self.reload)
            except PrometheusError as exc:
                rule_files.restore(path, previous)
                self._reload_quietly()
                raise PrometheusRuleError(f"{failure}: {exc}", output=str(exc)) from None
        return True

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except PrometheusError as exc:
            self.log.warning("reload after restoring a rule file failed too: %s", exc)

    def _wait_group(self, name: str, *, present: bool, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            group = self._retrying("listing the rule groups", lambda: self._loaded_group(name))
            if (group is not None) == present:
                return group or {}
            if time.monotonic() >= deadline:
                state = "listed" if present else "gone"
                raise PrometheusRuleError(
                    f"rule group {name!r} not {state} in Prometheus's /api/v1/rules after {timeout:.0f}s; "
                    "check that the config's rule_files cover the rules folder"
                )
            time.sleep(0.25)


def _frame(columns: Mapping[str, tuple]) -> pd.DataFrame:
    """Aligned frame from ``{name: (ts_ms, values)}``: outer join on timestamps, UTC index."""
    import numpy as np
    import pandas as pd

    if not columns:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"), dtype=float)
    all_ts = [ts for ts, _ in columns.values()]
    first = all_ts[0]
    if all(len(ts) == len(first) and np.array_equal(ts, first) for ts in all_ts[1:]):
        index_ms = first
        data = {name: vals for name, (_, vals) in columns.items()}
    else:
        index_ms = np.unique(np.concatenate(all_ts))
        data = {}
        for name, (ts, vals) in columns.items():
            col = np.full(len(index_ms), np.nan)
            col[np.searchsorted(index_ms, ts)] = vals
            data[name] = col
    index = pd.DatetimeIndex(pd.to_datetime(index_ms, unit="ms", utc=True), name="timestamp")
    return pd.DataFrame(data, index=index, columns=list(columns))


__all__ = ["PrometheusHook", "PrometheusSettings", "parse_instant_result", "series_name", "to_unix"]
