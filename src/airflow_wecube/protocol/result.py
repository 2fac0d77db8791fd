"""What a plugin call returned (:class:`PluginResult`), and the masking of the secrets in it.

A leaf of the protocol: the hook (WeCube services) and :mod:`airflow_wecube.protocol.rest` (REST
services) both build their results here, so neither imports the other. No Airflow import at module
level: :func:`mask_secret` reaches Airflow's secrets masker only when called.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_wecube.protocol.validation import CALLBACK
from airflow_wecube.protocol.wire import output_failed
from airflow_wecube.util.secrets import MASK

if TYPE_CHECKING:
    from airflow_wecube.registry.models import Interface


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


def mask_sensitive_inputs(interface: Interface, entities: Iterable[dict[str, Any]]) -> None:
    """Register the values of the interface's sensitive inputs with the masker, before any log line."""
    names = interface.sensitive_inputs
    for entity in entities:
        for name in names & entity.keys():
            mask_secret(entity[name])


def mask_sensitive_outputs(interface: Interface, outputs: Iterable[dict[str, Any]]) -> None:
    """Replace (in place) the values of sensitive outputs, and echoed sensitive inputs, by :data:`MASK`."""
    names = {p.name for p in interface.outputs if p.sensitive} | interface.sensitive_inputs
    for o in outputs:
        for name in names & o.keys():
            mask_secret(o[name])
            o[name] = MASK
