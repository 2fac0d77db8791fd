"""What a ``prometheus`` connection says: URL, auth, TLS, folders, limits and write retries.

Pure: no Airflow import (the ``[wecube]`` fallbacks are read by :mod:`airflow_wecube.config`, which
imports Airflow only when asked and works without it). The hook builds these from its connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_wecube.config import DEFAULT_HTTP_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, airflow_option, http_limits
from airflow_wecube.prometheus.errors import PrometheusConfigError

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
        """Build from a connection (Airflow's, or anything with its ``host``/``port``/``schema``/
        ``login``/``password``/``extra_dejson``/``conn_id``).

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
            raise PrometheusConfigError(
                f"connection extra 'timeout' must be seconds, got {extra.get('timeout')!r}"
            ) from None
        try:
            deadline, max_response_bytes = http_limits(extra)
        except ValueError as exc:
            raise PrometheusConfigError(f"connection {conn.conn_id!r}: {exc}") from None
        return cls(
            url=url,
            verify=verify,
            timeout=timeout,
            **retry_settings(extra),
            file_sd_dir=extra.get("file_sd_dir") or airflow_option("file_sd_dir"),
            rules_dir=extra.get("rules_dir") or airflow_option("rules_dir"),
            promtool=extra.get("promtool") or None,
            auth=auth,
            headers=headers,
            deadline=deadline,
            max_response_bytes=max_response_bytes,
        )


def retry_settings(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Extras ``retry_limit`` (0-20, default 4) and ``retry_delay`` (seconds, 0-60, default 1), checked."""
    out: dict[str, Any] = {}
    raw = extra.get("retry_limit")
    if raw is not None and raw != "":
        try:
            out["retry_limit"] = int(str(raw).strip())
        except ValueError:
            out["retry_limit"] = -1
        if isinstance(raw, bool) or not 0 <= out["retry_limit"] <= 20:
            raise PrometheusConfigError(
                f"connection extra 'retry_limit' must be a whole number from 0 to 20, got {raw!r}"
            )
    raw = extra.get("retry_delay")
    if raw is not None and raw != "":
        try:
            out["retry_delay"] = float(str(raw).strip())
        except ValueError:
            out["retry_delay"] = -1.0
        if isinstance(raw, bool) or not 0 <= out["retry_delay"] <= 60:
            raise PrometheusConfigError(f"connection extra 'retry_delay' must be seconds from 0 to 60, got {raw!r}")
    return out
