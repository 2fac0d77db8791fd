"""The WeCube plugin wire format (DESIGN §4): request and response models.

Shared by the hook (client) and the sandbox (server). No Airflow import.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SUCCESS = "0"


class PluginRequest(BaseModel):
    """What the platform POSTs to a plugin interface: one ``inputs`` element per target entity."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    request_id: str = Field(alias="requestId")
    operator: str = "airflow"
    service_name: str = Field(default="", alias="serviceName")
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    # async interfaces: where the plugin POSTs its result later
    callback_url: str | None = Field(default=None, alias="callbackUrl")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class PluginResults(BaseModel):
    model_config = ConfigDict(extra="allow")

    outputs: list[dict[str, Any]] = Field(default_factory=list)
    request_id: str | None = Field(default=None, alias="requestId")


class PluginResponse(BaseModel):
    """What a plugin answers; ``resultCode`` other than ``"0"`` fails the call."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    result_code: str = Field(alias="resultCode")
    result_message: str = Field(default="", alias="resultMessage")
    results: PluginResults = Field(default_factory=PluginResults)

    @property
    def ok(self) -> bool:
        return str(self.result_code) == SUCCESS

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return self.results.outputs

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def output_failed(output: dict[str, Any]) -> bool:
    """An output whose ``errorCode`` is set and not ``"0"`` failed for its entity."""
    code = output.get("errorCode")
    return code not in (None, "", SUCCESS, 0)


NO_OUTPUT = "no output for callbackParameter {}"


def match_outputs(
    callbacks: list[str], outputs: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pair each input's ``callbackParameter`` with exactly one output: ``(matched, unexpected)``.

    ``matched`` has one output per input, in input order; an input the plugin did not answer for
    gets a failed output (``errorCode "1"``, "no output for callbackParameter b"), so an entity that
    never ran never looks done. ``unexpected`` holds the outputs matching no input, and a second
    output for the same input. Outputs are copied, never changed in place.
    """
    wanted = set(callbacks)
    by_cb: dict[str, dict[str, Any]] = {}
    unexpected = []
    for o in outputs:
        cb = o.get("callbackParameter")
        key = str(cb) if cb is not None else None
        if key in wanted and key not in by_cb:
            by_cb[key] = dict(o)
        else:
            unexpected.append(dict(o))
    matched = [by_cb.get(cb) or error_output(cb, NO_OUTPUT.format(cb)) for cb in callbacks]
    return matched, unexpected


def ok_output(callback_parameter: str, **values: Any) -> dict[str, Any]:
    return {"callbackParameter": callback_parameter, "errorCode": SUCCESS, "errorMessage": "", **values}


def error_output(callback_parameter: str, message: str, code: str = "1") -> dict[str, Any]:
    return {"callbackParameter": callback_parameter, "errorCode": code, "errorMessage": message}
