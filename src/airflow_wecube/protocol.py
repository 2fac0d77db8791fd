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


def ok_output(callback_parameter: str, **values: Any) -> dict[str, Any]:
    return {"callbackParameter": callback_parameter, "errorCode": SUCCESS, "errorMessage": "", **values}


def error_output(callback_parameter: str, message: str, code: str = "1") -> dict[str, Any]:
    return {"callbackParameter": callback_parameter, "errorCode": code, "errorMessage": message}
