"""What an ``alertmanager`` connection says: Alertmanager's URL, HTTP limits and the webhook secret.

Pure: no Airflow import. ``host`` is the URL (``http://127.0.0.1:9093``, a path prefix allowed; a bare
host with ``port`` and ``schema`` works too). ``password`` is the webhook's shared secret: what
Alertmanager sends to ``POST /wecube/alerts`` as its bearer token. It is never sent to Alertmanager.
``login``/extra ``api_password`` are basic auth for an Alertmanager behind ``--web.config.file``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airflow_wecube.alertmanager.errors import AlertmanagerConfigError
from airflow_wecube.config import DEFAULT_HTTP_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, http_limits

_FALSE = {"0", "false", "no", "n", "off"}


@dataclass(frozen=True)
class AlertmanagerSettings:
    """A resolved ``alertmanager`` connection (secrets kept out of ``repr``)."""

    url: str
    verify: bool | str = True
    #: seconds for connecting and for each read
    timeout: float = 30.0
    #: seconds for a whole request: connect, send and the full answer (extra ``deadline``)
    deadline: float = DEFAULT_HTTP_DEADLINE
    #: largest answer accepted (extra ``max_response_bytes``)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    auth: tuple[str, str] | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_connection(cls, conn: Any) -> AlertmanagerSettings:
        extra = conn.extra_dejson or {}
        host = (conn.host or "").strip()
        if not host:
            raise AlertmanagerConfigError(f"connection {conn.conn_id!r} has no host (the Alertmanager URL)")
        if "://" not in host:
            scheme = (conn.schema or "http").lower()
            host = f"{scheme if scheme in ('http', 'https') else 'http'}://{host}"
        url = host.rstrip("/")
        if conn.port and not re.match(r"^[a-z]+://[^/]*:\d+", url, re.IGNORECASE):
            scheme, rest = url.split("://", 1)
            netloc, _, path = rest.partition("/")
            url = f"{scheme}://{netloc}:{conn.port}" + (f"/{path}" if path else "")
        raw_verify = extra.get("verify")
        if raw_verify is None or isinstance(raw_verify, bool):
            verify: bool | str = True if raw_verify is None else raw_verify
        elif str(raw_verify).strip().lower() in _FALSE:
            verify = False
        elif str(raw_verify).strip().lower() in {"1", "true", "yes", "y", "on"}:
            verify = True
        else:
            verify = str(raw_verify)  # a CA bundle path
        try:
            timeout = float(extra.get("timeout") or 30.0)
            if timeout <= 0:
                raise ValueError
        except (TypeError, ValueError):
            raise AlertmanagerConfigError(
                f"connection {conn.conn_id!r}: extra 'timeout' must be seconds above 0, got {extra.get('timeout')!r}"
            ) from None
        try:
            deadline, max_bytes = http_limits(extra)
        except ValueError as exc:
            raise AlertmanagerConfigError(f"connection {conn.conn_id!r}: {exc}") from None
        auth = (conn.login, str(extra.get("api_password") or "")) if conn.login else None
        return cls(
            url=url,
            verify=verify,
            timeout=timeout,
            deadline=deadline,
            max_response_bytes=max_bytes,
            auth=auth,
            webhook_secret=conn.password or None,
        )
