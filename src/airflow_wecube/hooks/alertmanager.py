"""Alertmanager hook: alerts (list with matchers, post), silences (create, read, expire) and health.

Speaks Alertmanager's API v2 on the ``alertmanager`` connection (:mod:`airflow_wecube.alertmanager.settings`)
with the project's HTTP rules: a deadline for each whole request and a cap on the answer
(:mod:`airflow_wecube.util.http_limits`), a few quick retries of reads while Alertmanager restarts, errors
that say what was asked and what Alertmanager answered. The connection's password (the webhook
secret) is never sent to Alertmanager nor logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseHook

from airflow_wecube.alertmanager.errors import (
    AlertmanagerConfigError,
    AlertmanagerError,
    AlertmanagerUnreachableError,
)
from airflow_wecube.alertmanager.matchers import Matchers, matcher_strings, silence_matchers
from airflow_wecube.alertmanager.settings import AlertmanagerSettings

if TYPE_CHECKING:
    import requests


def _session_retry():
    """Connection failures are retried for every method (nothing was sent); 502/503/504 only for reads."""
    from urllib3.util.retry import Retry

    return Retry(
        total=3,
        connect=2,
        read=0,
        status=2,
        backoff_factor=0.2,
        status_forcelist=[502, 503, 504],
        allowed_methods=frozenset({"GET", "DELETE"}),
        raise_on_status=False,
    )


def _when(value: datetime | None, default: datetime) -> str:
    value = value or default
    if value.tzinfo is None:
        raise AlertmanagerConfigError(f"time {value!r} has no time zone; pass an aware datetime (UTC)")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class AlertmanagerHook(BaseHook):
    """Talk to Alertmanager's API v2.

    :param alertmanager_conn_id: the ``alertmanager`` connection: URL in host, the webhook's shared secret
        as password (used by ``POST /wecube/alerts``, never sent to Alertmanager); extras ``timeout``,
        ``deadline``, ``max_response_bytes``, ``verify``.
    """

    conn_name_attr = "alertmanager_conn_id"
    default_conn_name = "alertmanager_default"
    conn_type = "alertmanager"
    hook_name = "Alertmanager"

    def __init__(self, alertmanager_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alertmanager_conn_id = alertmanager_conn_id

    @cached_property
    def settings(self) -> AlertmanagerSettings:
        """The resolved connection (read once per hook)."""
        return AlertmanagerSettings.from_connection(self.get_connection(self.alertmanager_conn_id))

    @cached_property
    def _session(self) -> requests.Session:
        import requests

        from airflow_wecube.util.http_limits import LimitedAdapter

        session = requests.Session()
        session.verify = self.settings.verify
        if self.settings.auth:
            session.auth = self.settings.auth
        adapter = LimitedAdapter(
            max_retries=_session_retry(),
            deadline=self.settings.deadline,
            max_bytes=self.settings.max_response_bytes,
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _request(
        self, method: str, path: str, what: str, *, ok: Iterable[int] = (200,), parse: bool = True, **kwargs: Any
    ) -> Any:
        """``method`` ``<url><path>``: the decoded JSON answer (None when empty, the text when not ``parse``);
        else a clear error."""
        import requests

        from airflow_wecube.util.http_limits import DeadlineExceeded, ResponseTooLarge

        url = f"{self.settings.url}{path}"
        kwargs.setdefault("verify", self.settings.verify)
        try:
            response = self._session.request(method, url, timeout=self.settings.timeout, **kwargs)
        except ResponseTooLarge as exc:
            raise AlertmanagerError(f"{what}: {exc}") from None
        except (DeadlineExceeded, requests.exceptions.RequestException) as exc:
            raise AlertmanagerUnreachableError(
                f"{what}: Alertmanager at {self.settings.url} is unreachable: {exc}"
            ) from None
        if response.status_code not in set(ok):
            detail = response.text.strip()[:500] or response.reason
            raise AlertmanagerError(
                f"{what}: Alertmanager answered HTTP {response.status_code}: {detail}", status_code=response.status_code
            )
        if not parse:
            return response.text
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AlertmanagerError(
                f"{what}: Alertmanager's answer is not JSON: {response.text[:200]!r}", status_code=response.status_code
            ) from None

    # -- health -------------------------------------------------------------------------------

    def health(self) -> bool:
        """Whether Alertmanager answers ``GET /-/healthy`` with 200 (False when it is down)."""
        try:
            self._request("GET", "/-/healthy", "health check", parse=False)
        except AlertmanagerError:
            return False
        return True

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: ask for the status (version, cluster)."""
        try:
            status = self._request("GET", "/api/v2/status", "status")
        except AlertmanagerError as exc:
            return False, str(exc)
        version = (status or {}).get("versionInfo", {}).get("version", "?")
        return True, f"Connected to Alertmanager {version} at {self.settings.url}"

    # -- alerts -------------------------------------------------------------------------------

    def list_alerts(
        self,
        matchers: Matchers | None = None,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        unprocessed: bool = True,
        receiver: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds, those matching every matcher.

        :param matchers: ``{"alertname": "X"}`` (equality) or strings ``'instance=~"10\\\\..*"'``
        :param active: include active alerts; ``silenced``/``inhibited``/``unprocessed`` likewise
        :param receiver: only alerts routed to this receiver (a regex, as Alertmanager reads it)
        :return: Alertmanager's alert objects: ``labels``, ``annotations``, ``startsAt``, ``endsAt``,
            ``fingerprint``, ``status`` (``state``, ``silencedBy``, ``inhibitedBy``), ``receivers``
        """
        params: list[tuple[str, str]] = [("filter", m) for m in matcher_strings(matchers)]
        for name, value in (("active", active), ("silenced", silenced), ("inhibited", inhibited)):
            params.append((name, "true" if value else "false"))
        params.append(("unprocessed", "true" if unprocessed else "false"))
        if receiver:
            params.append(("receiver", receiver))
        return self._request("GET", "/api/v2/alerts", "list alerts", params=params) or []

    def post_alerts(self, alerts: list[Mapping[str, Any]]) -> None:
        """Send alerts to Alertmanager (``labels`` with ``alertname``, optional ``annotations``,
        ``startsAt``, ``endsAt``, ``generatorURL``), as Prometheus does: to raise one by hand."""
        if not isinstance(alerts, list) or not alerts:
            raise AlertmanagerConfigError("post_alerts needs a non-empty list of alerts")
        for i, alert in enumerate(alerts):
            labels = alert.get("labels") if isinstance(alert, Mapping) else None
            if not isinstance(labels, Mapping) or not labels.get("alertname"):
                raise AlertmanagerConfigError(f"alerts[{i}] needs labels with an 'alertname'")
        self._request("POST", "/api/v2/alerts", "post alerts", json=[dict(a) for a in alerts])

    # -- silences -----------------------------------------------------------------------------

    def create_silence(
        self,
        matchers: Matchers,
        *,
        duration: timedelta | float = timedelta(hours=1),
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        comment: str = "",
        created_by: str = "airflow",
    ) -> str:
        """Silence the alerts matching every matcher; returns the silence id (for :meth:`expire_silence`).

        :param duration: how long (timedelta or seconds) from ``starts_at`` (default now), unless ``ends_at``
        :param comment: why (shown in Alertmanager's UI; say which run silenced it)
        """
        now = datetime.now(timezone.utc)
        start = starts_at or now
        if ends_at is None:
            seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
            if seconds <= 0:
                raise AlertmanagerConfigError(f"silence duration must be above 0, got {duration!r}")
            if start.tzinfo is None:
                raise AlertmanagerConfigError(f"starts_at {start!r} has no time zone; pass an aware datetime")
            ends_at = start + timedelta(seconds=seconds)
        body = {
            "matchers": silence_matchers(matchers),
            "startsAt": _when(start, now),
            "endsAt": _when(ends_at, now),
            "createdBy": created_by or "airflow",
            "comment": comment or f"created by {created_by or 'airflow'}",
        }
        answer = self._request("POST", "/api/v2/silences", "create silence", json=body)
        silence_id = (answer or {}).get("silenceID")
        if not silence_id:
            raise AlertmanagerError(f"create silence: Alertmanager answered without a silenceID: {json.dumps(answer)}")
        self.log.info("silence %s on %s until %s", silence_id, matcher_strings(matchers), body["endsAt"])
        return silence_id

    def get_silence(self, silence_id: str) -> dict[str, Any]:
        """The silence: ``id``, ``matchers``, ``startsAt``, ``endsAt``, ``status.state`` (active, pending, expired)."""
        return self._request("GET", f"/api/v2/silence/{quote(str(silence_id), safe='')}", f"get silence {silence_id}")

    def list_silences(self, matchers: Matchers | None = None) -> list[dict[str, Any]]:
        """Silences whose matchers match these (every state; filter on ``status.state``)."""
        params = [("filter", m) for m in matcher_strings(matchers)]
        return self._request("GET", "/api/v2/silences", "list silences", params=params) or []

    def expire_silence(self, silence_id: str) -> bool:
        """End the silence now. True when it was expired by this call, False when it had ended already
        (so a retried task or a cleanup after a failure is safe); an unknown id is an error."""
        current = self.get_silence(silence_id)
        if (current.get("status") or {}).get("state") == "expired":
            return False
        self._request("DELETE", f"/api/v2/silence/{quote(str(silence_id), safe='')}", f"expire silence {silence_id}")
        self.log.info("silence %s expired", silence_id)
        return True
