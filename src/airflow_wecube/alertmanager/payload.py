"""Alertmanager's webhook payload, version 4, read strictly: what ``POST /wecube/alerts`` accepts.

Pure: no Airflow import. :func:`parse_payload` takes the raw body and returns a
:class:`WebhookPayload`, or raises :class:`AlertPayloadError` listing every problem with where it is
(``alerts[1].startsAt: ...``). One alert *state change* is (fingerprint, startsAt, status):
:attr:`WebhookAlert.key` names it; Alertmanager sends the same change again and again (every
``group_interval`` while the group changes, every ``repeat_interval``), the receiver records it once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from airflow_wecube.alertmanager.errors import AlertPayloadError

#: largest body accepted (bytes); Alertmanager's own payloads are a few KiB per alert
MAX_PAYLOAD_BYTES = 1024 * 1024
#: most alerts in one delivery
MAX_ALERTS = 1000
#: an alert name that can name an asset ``wecube-alert://<alertname>``: a Prometheus metric name
#: (what Prometheus allows for ``alert:``) plus ``.`` and ``-``, at most 200 characters
ALERTNAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.\-]{0,199}")

_Text = Annotated[str, StringConstraints(max_length=64 * 1024)]
_Labels = Annotated[dict[Annotated[str, StringConstraints(max_length=1024)], _Text], Field(max_length=200)]


class WebhookAlert(BaseModel):
    """One alert of a delivery (``alerts[]``)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: _Labels
    annotations: _Labels = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: Annotated[str, StringConstraints(max_length=8192)] = ""
    fingerprint: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{1,64}$")]

    @field_validator("labels")
    @classmethod
    def _alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        name = labels.get("alertname")
        if not name:
            raise ValueError("has no 'alertname' label")
        if not ALERTNAME.fullmatch(name):
            raise ValueError(
                f"alertname {name!r} cannot name an asset: letters, digits, _ : . - (first a letter, _ or :), "
                "at most 200 characters"
            )
        return labels

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Aware and within UTC's range: kept as UTC (``9999-12-31T23:00:00-05:00`` is past year 9999
        in UTC and refused; Alertmanager's zero time ``0001-01-01T00:00:00Z`` is valid)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
        try:
            return value.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise ValueError(
                f"{value.isoformat()} is outside the times UTC can hold (0001-01-01 to 9999-12-31)"
            ) from None

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    @property
    def key(self) -> str:
        """This state change: ``<fingerprint>/<startsAt, UTC>/<status>``."""
        starts = self.startsAt.astimezone(timezone.utc).isoformat()
        return f"{self.fingerprint.lower()}/{starts}/{self.status}"

    def event_extra(self) -> dict[str, Any]:
        """What the Asset event's ``extra`` holds (JSON types only)."""
        return {
            "alertname": self.alertname,
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "fingerprint": self.fingerprint,
            "startsAt": _iso(self.startsAt),
            "endsAt": _iso(self.endsAt),
            "generatorURL": self.generatorURL,
            "key": self.key,
        }


def _iso(value: datetime | None) -> str | None:
    if value is None or value.year <= 1:  # Alertmanager's "0001-01-01T00:00:00Z": no end yet
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class WebhookPayload(BaseModel):
    """A delivery of Alertmanager's webhook notifier (``version: "4"``)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: Annotated[str, StringConstraints(max_length=1024)] = ""
    groupKey: Annotated[str, StringConstraints(max_length=64 * 1024)] = ""
    truncatedAlerts: int = 0
    groupLabels: _Labels = Field(default_factory=dict)
    commonLabels: _Labels = Field(default_factory=dict)
    commonAnnotations: _Labels = Field(default_factory=dict)
    externalURL: Annotated[str, StringConstraints(max_length=8192)] = ""
    alerts: Annotated[list[WebhookAlert], Field(max_length=MAX_ALERTS)]


def parse_payload(body: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> WebhookPayload:
    """The payload in ``body`` (JSON), checked; :class:`AlertPayloadError` lists every problem."""
    if len(body) > max_bytes:
        raise AlertPayloadError([f"the payload is {len(body)} bytes, more than the {max_bytes} bytes allowed"])
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise AlertPayloadError([f"the payload is not JSON: {exc}"]) from None
    except RecursionError:
        raise AlertPayloadError(["the payload is not JSON this receiver reads: nested too deeply"]) from None
    if not isinstance(data, dict):
        raise AlertPayloadError([f"the payload must be a JSON object, got {type(data).__name__}"])
    if "version" in data and data["version"] != "4":
        raise AlertPayloadError(
            [f"version {data['version']!r} is not supported: this receiver reads Alertmanager's webhook version '4'"]
        )
    try:
        return WebhookPayload.model_validate(data)
    except ValidationError as exc:
        raise AlertPayloadError([_problem(err) for err in exc.errors()[:20]]) from None
    except RecursionError:  # a label value nested thousands deep
        raise AlertPayloadError(["the payload is nested too deeply"]) from None


def _problem(err: dict[str, Any]) -> str:
    where = ""
    for part in err.get("loc", ()):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = err.get("msg", "invalid").removeprefix("Value error, ")
    return f"{where or 'payload'}: {message}"
