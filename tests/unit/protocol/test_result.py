"""The call result and its masking: one MASK, sensitive outputs (and echoed sensitive inputs) replaced."""

from __future__ import annotations

import requests

from airflow_wecube.protocol.rest import RestSettings
from airflow_wecube.protocol.result import MASK, PluginResult, mask_sensitive_outputs
from airflow_wecube.registry.models import Interface, Parameter

ITF = Interface(
    action="create",
    path="/create",
    inputs=(Parameter(name="host"), Parameter(name="root_password", sensitive=True)),
    outputs=(Parameter(name="id"), Parameter(name="api_token", sensitive=True)),
)


def test_sensitive_outputs_and_echoed_inputs_are_masked_in_place():
    outputs = [
        {"callbackParameter": "a", "id": "1", "api_token": "t0k", "root_password": "pw"},
        {"callbackParameter": "b", "id": "2", "api_token": ""},
    ]
    mask_sensitive_outputs(ITF, outputs)
    assert outputs[0] == {"callbackParameter": "a", "id": "1", "api_token": MASK, "root_password": MASK}
    assert outputs[1]["api_token"] == MASK and outputs[1]["id"] == "2"


def test_result_says_what_failed():
    result = PluginResult(
        service="p/x/create",
        request_id="r1",
        result_code="0",
        result_message="",
        outputs=[{"callbackParameter": "a", "errorCode": "0"}, {"callbackParameter": "b", "errorCode": "1"}],
        failed=[{"callbackParameter": "b", "errorCode": "1", "errorMessage": "disk full"}],
        unexpected=[{"callbackParameter": "a"}],
    )
    assert not result.ok
    assert result.problems() == "b: disk full; plugin answered for unknown callbackParameter(s) a (a second output)"
    assert [o["callbackParameter"] for o in result.succeeded] == ["a"]


def test_rest_settings_never_show_the_password():
    settings = RestSettings(
        session=requests.Session(),
        base_url="http://127.0.0.1:1",
        has_host=True,
        password="s3cret-token",
        extra={},
        timeout=1.0,
        retries=0,
        delay=0.0,
        deadline=5.0,
        max_bytes=1024,
        limited=False,
        allow_redirects=True,
        send=lambda session, prepared, options: None,
        log=None,
    )
    assert "s3cret-token" not in repr(settings)
