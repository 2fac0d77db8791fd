"""The WeCube plugin protocol: wire format, input checks, platform-filled inputs, request ids, REST calls.

``airflow_wecube.protocol`` was one module (now :mod:`airflow_wecube.protocol.wire`); its names are
re-exported here so that ``from airflow_wecube.protocol import PluginRequest`` keeps working.
"""

from airflow_wecube.protocol.wire import (
    NO_OUTPUT,
    SUCCESS,
    PluginRequest,
    PluginResponse,
    PluginResults,
    error_output,
    match_outputs,
    ok_output,
    output_failed,
)

__all__ = [
    "NO_OUTPUT",
    "SUCCESS",
    "PluginRequest",
    "PluginResponse",
    "PluginResults",
    "error_output",
    "match_outputs",
    "ok_output",
    "output_failed",
]
