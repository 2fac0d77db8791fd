"""WeCubePluginHook against the real sandbox plugin server on loopback."""

from __future__ import annotations

import json
import time

import pytest

from airflow_wecube.exceptions import ParameterValidationError, WeCubePluginError
from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.sandbox.store import redact_authorization

pytestmark = pytest.mark.integration


@pytest.fixture
def hook(wecube_conn, plugin_registry):
    return WeCubePluginHook(registry=plugin_registry, retry_delay=0.05)


def test_one_call_for_many_entities_in_input_order(hook, sandbox):
    inputs = [{"callbackParameter": f"e{i}", "message": f"m{i}", "count": i} for i in (3, 1, 2)]
    result = hook.call("faults/fault/echo", inputs, request_id="order-1")
    assert [o["callbackParameter"] for o in result.outputs] == ["e3", "e1", "e2"]
    assert [o["message"] for o in result.outputs] == ["m3", "m1", "m2"]
    assert result.ok and result.failed == []
    assert len(sandbox.calls("order-1")) == 1


def test_dict_input_gets_callback_parameter(hook):
    result = hook.call("cmdb/ci/create", {"type": "vpc", "name": "hook-vpc"})
    assert result.outputs[0]["callbackParameter"] == "0"
    assert result.outputs[0]["guid"]
    again = hook.call("cmdb/ci/create", {"type": "vpc", "name": "hook-vpc"})
    assert again.outputs[0]["guid"] == result.outputs[0]["guid"]


def test_invalid_inputs_fail_before_any_http(hook, sandbox):
    with pytest.raises(ParameterValidationError) as e:
        hook.call(
            "cmdb/ci/create",
            [
                {"callbackParameter": "a", "name": "x", "colour": "red"},
                {"callbackParameter": "b", "type": {"no": 1}, "name": "y"},
            ],
            request_id="invalid-1",
        )
    msg = str(e.value)
    assert "entity a: missing required type" in msg
    assert "entity a: unknown parameter(s) colour" in msg
    assert "entity b: type: expected string, got dict" in msg
    assert sandbox.calls("invalid-1") == []


def test_int_and_list_datatypes(hook):
    with pytest.raises(ParameterValidationError, match="count: expected int, got str.*items: expected list"):
        hook.call("faults/fault/echo", {"count": "many", "items": "a,b"})
    assert hook.call("faults/fault/echo", {"count": "7", "items": ["a"]}).ok


def test_retries_5xx_with_the_same_request_id(hook, sandbox):
    result = hook.call("faults/fault/flaky", {"fail_times": 2}, request_id="flaky-1")
    assert int(result.outputs[0]["attempt"]) == 3
    calls = sandbox.calls("flaky-1")
    assert len(calls) == 3
    assert {c["requestId"] for c in calls} == {"flaky-1"}


def test_gives_up_after_retry_limit(wecube_conn, plugin_registry, sandbox):
    hook = WeCubePluginHook(registry=plugin_registry, retry_limit=2, retry_delay=0.01)
    with pytest.raises(WeCubePluginError, match="failed after 3 attempts: HTTP 500"):
        hook.call("faults/fault/flaky", {"fail_times": 10}, request_id="flaky-2")
    assert len(sandbox.calls("flaky-2")) == 3


def test_unreachable_plugin_is_retried_then_fails(plugin_registry, monkeypatch):
    from tests.fixtures.sandbox import free_port

    conn = {"conn_type": "wecube", "host": f"http://127.0.0.1:{free_port()}", "password": "t"}
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_DOWN", json.dumps(conn))
    hook = WeCubePluginHook("wecube_down", registry=plugin_registry, retry_limit=1, retry_delay=0.01)
    with pytest.raises(WeCubePluginError, match="failed after 2 attempts: ConnectionError"):
        hook.call("faults/fault/echo", {"message": "hi"})


def test_result_code_1_fails_with_its_message_and_is_not_retried(hook, sandbox):
    with pytest.raises(WeCubePluginError, match="resultCode 1: quota exceeded") as e:
        hook.call("faults/fault/result-code-1", {"message": "quota exceeded"}, request_id="rc1")
    assert e.value.result is not None
    assert len(sandbox.calls("rc1")) == 1


def test_body_not_json(hook):
    with pytest.raises(WeCubePluginError, match="not JSON"):
        hook.call("faults/fault/invalid-json", {})


def test_body_not_the_protocol(hook):
    with pytest.raises(WeCubePluginError, match="not the WeCube plugin protocol"):
        hook.call("faults/fault/not-protocol", {})


def test_partial_failure_keeps_successful_outputs(hook):
    inputs = [
        {"callbackParameter": "ok1", "value": "a"},
        {"callbackParameter": "bad", "fail": "Y"},
        {"callbackParameter": "ok2", "value": "b"},
    ]
    with pytest.raises(WeCubePluginError, match="failed on purpose: bad") as e:
        hook.call("faults/fault/entity-errors", inputs)
    result = e.value.result
    assert [o["callbackParameter"] for o in result.failed] == ["bad"]
    assert [o["value"] for o in result.succeeded] == ["a", "b"]


def test_wrong_token_is_a_failure_with_the_plugin_message(sandbox, plugin_registry, monkeypatch):
    conn = {"conn_type": "wecube", "host": sandbox.url, "password": "wrong-token"}
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_BADTOKEN", json.dumps(conn))
    hook = WeCubePluginHook("wecube_badtoken", registry=plugin_registry, retry_delay=0.01)
    with pytest.raises(WeCubePluginError, match="resultCode 1: unauthorized"):
        hook.call("faults/fault/echo", {"message": "hi"})


def test_headers_bearer_token_and_own_extras_stripped(sandbox, plugin_registry, monkeypatch):
    conn = {
        "conn_type": "wecube",
        "host": sandbox.url,
        "password": sandbox.token,
        "extra": {"operator": "ops-bot", "timeout": 30, "X-Team": "platform", "X-Api-Token": "leak-me-not"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_HEADERS", json.dumps(conn))
    hook = WeCubePluginHook("wecube_headers", registry=plugin_registry)
    hook.call("faults/fault/echo", {"message": "hi"}, request_id="headers-1")
    (call,) = sandbox.calls("headers-1")
    headers = call["headers"]
    assert headers["authorization"] == redact_authorization(f"Bearer {sandbox.token}")
    assert sandbox.token not in json.dumps(call)  # the sandbox keeps no token
    assert headers["x-team"] == "platform"
    assert "operator" not in headers and "timeout" not in headers
    assert "x-api-token" not in headers and "leak-me-not" not in json.dumps(headers)
    body_operator = call.get("operator")
    if body_operator is not None:
        assert body_operator == "ops-bot"


def test_sensitive_value_sent_but_never_returned(hook, sandbox):
    secret = "s3cr3t-hook-value"
    result = hook.call("faults/fault/echo", {"message": "hi", "token": secret}, request_id="secret-1")
    assert secret not in json.dumps(result.to_dict())
    (call,) = sandbox.calls("secret-1")
    assert call["inputs"][0]["token"] == secret  # it did reach the plugin
    assert secret not in json.dumps(call["headers"])


def test_unknown_service_is_clear(hook):
    from airflow_wecube.exceptions import RegistryError

    with pytest.raises(RegistryError, match="no service 'cmdb/ci/destroy'"):
        hook.call("cmdb/ci/destroy", {})


def test_thousand_entities_in_one_call(hook):
    inputs = [{"callbackParameter": str(i), "message": str(i)} for i in range(1000)]
    result = hook.call("faults/fault/echo", inputs)
    assert len(result.outputs) == 1000 and result.outputs[999]["message"] == "999"


def test_failed_entity_fails_the_call_even_under_result_code_0(hook):
    inputs = [{"callbackParameter": "ok", "value": "a"}, {"callbackParameter": "bad", "fail": "Y"}]
    with pytest.raises(WeCubePluginError, match="resultCode 0.*bad: failed on purpose: bad") as e:
        hook.call("faults/fault/quiet-entity-errors", inputs)
    assert [o["value"] for o in e.value.result.succeeded] == ["a"]


def test_hook_arguments_win_over_connection_extras(sandbox, plugin_registry, monkeypatch):
    conn = {
        "conn_type": "wecube",
        "host": sandbox.url,
        "password": sandbox.token,
        "extra": {"retry_limit": 5, "retry_delay": 0.01},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_RETRIES", json.dumps(conn))
    with pytest.raises(WeCubePluginError, match="failed after 2 attempts"):
        WeCubePluginHook("wecube_retries", registry=plugin_registry, retry_limit=1).call(
            "faults/fault/flaky", {"fail_times": 10}, request_id="prec-1"
        )
    with pytest.raises(WeCubePluginError, match="failed after 6 attempts"):
        WeCubePluginHook("wecube_retries", registry=plugin_registry).call(
            "faults/fault/flaky", {"fail_times": 10}, request_id="prec-2"
        )


@pytest.fixture
def scripted_hook(scripted_server, plugin_registry, monkeypatch):
    """A hook whose plugin is the scripted loopback server (it answers what the test says)."""
    conn = {"conn_type": "wecube", "host": scripted_server.url, "password": "scripted-token"}
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_SCRIPTED", json.dumps(conn))
    return WeCubePluginHook("wecube_scripted", registry=plugin_registry, retry_limit=0)


def ok(cb, **values):
    return {"callbackParameter": cb, "errorCode": "0", "errorMessage": "", **values}


THREE = [{"callbackParameter": c, "message": c} for c in ("a", "b", "c")]


def answer(*outputs):
    return {"resultCode": "0", "resultMessage": "success", "results": {"outputs": list(outputs)}}


def test_missing_outputs_are_failed_entities(scripted_hook, scripted_server):
    scripted_server.reply(answer(ok("a", message="a")))
    with pytest.raises(
        WeCubePluginError, match="b: no output for callbackParameter b; c: no output for callbackParameter c"
    ) as e:
        scripted_hook.call("faults/fault/echo", THREE)
    result = e.value.result
    assert not result.ok
    assert [o["callbackParameter"] for o in result.outputs] == ["a", "b", "c"]
    assert [o["message"] for o in result.succeeded] == ["a"]
    assert [(o["callbackParameter"], o["errorMessage"]) for o in result.failed] == [
        ("b", "no output for callbackParameter b"),
        ("c", "no output for callbackParameter c"),
    ]


def test_outputs_matching_no_input_fail_every_entity_and_are_reported(scripted_hook, scripted_server):
    scripted_server.reply(answer(ok("x"), ok("y"), ok("z")))
    with pytest.raises(WeCubePluginError, match=r"answered for unknown callbackParameter\(s\) x, y, z") as e:
        scripted_hook.call("faults/fault/echo", THREE)
    result = e.value.result
    assert result.succeeded == []
    assert [o["callbackParameter"] for o in result.failed] == ["a", "b", "c"]
    assert [o["callbackParameter"] for o in result.unexpected] == ["x", "y", "z"]


def test_an_extra_output_fails_the_call_and_keeps_the_matched_ones(scripted_hook, scripted_server):
    scripted_server.reply(
        answer(ok("c", message="c"), ok("a", message="a"), ok("b", message="b"), ok("d", secret="no"))
    )
    with pytest.raises(WeCubePluginError, match=r"unknown callbackParameter\(s\) d") as e:
        scripted_hook.call("faults/fault/echo", THREE)
    result = e.value.result
    assert result.failed == [] and not result.ok
    assert [o["message"] for o in result.succeeded] == ["a", "b", "c"]  # input order
    assert [o["callbackParameter"] for o in result.unexpected] == ["d"]


def test_two_outputs_for_one_entity_are_reported(scripted_hook, scripted_server):
    scripted_server.reply(answer(ok("a"), ok("b"), ok("c"), ok("b", message="again")))
    with pytest.raises(WeCubePluginError, match=r"unknown callbackParameter\(s\) b \(a second output\)") as e:
        scripted_hook.call("faults/fault/echo", THREE)
    assert [o["callbackParameter"] for o in e.value.result.outputs] == ["a", "b", "c"]


def test_outputs_matched_by_callback_parameter_whatever_their_order_and_type(scripted_hook, scripted_server):
    scripted_server.reply(answer(ok(2, message="two"), ok(0, message="zero"), ok(1, message="one")))
    result = scripted_hook.call("faults/fault/echo", [{"message": m} for m in ("zero", "one", "two")])
    assert result.ok and [o["message"] for o in result.outputs] == ["zero", "one", "two"]


# -- a whole-request deadline and a size cap (a server that trickles must not hold the task) ---


def trickling_answer(pad: int = 100) -> bytes:
    """A valid answer, padded: at 0.1 s a byte it would complete after about ``pad / 10`` s."""
    return json.dumps(answer(ok("0", message="late"))).encode() + b" " * pad


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_trickling_plugin_fails_within_the_deadline(scripted_server, plugin_registry, monkeypatch, headers_too):
    conn = {
        "conn_type": "wecube",
        "host": scripted_server.url,
        "password": "scripted-token",
        "extra": {"deadline": 1.5},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_TRICKLE", json.dumps(conn))
    scripted_server.reply(trickling_answer(), trickle=0.1, trickle_headers=headers_too)
    hook = WeCubePluginHook("wecube_trickle", registry=plugin_registry, timeout=1, retry_delay=0.05)
    started = time.monotonic()
    with pytest.raises(WeCubePluginError, match=r"no complete answer within the 1.5 s deadline") as e:
        hook.call("faults/fault/echo", {"message": "hi"})
    elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"the call took {elapsed:.1f}s with a 1.5 s deadline"  # each read took 0.1 s < timeout
    assert "connection extra 'deadline'" in str(e.value)


def test_deadline_from_wecube_config_and_hook_argument_wins(
    scripted_server, scripted_hook, plugin_registry, monkeypatch
):
    scripted_server.reply(trickling_answer(), trickle=0.1)
    monkeypatch.setenv("AIRFLOW__WECUBE__HTTP_DEADLINE", "1")
    started = time.monotonic()
    with pytest.raises(WeCubePluginError, match=r"within the 1 s deadline"):
        scripted_hook.call("faults/fault/echo", {"message": "hi"})
    assert time.monotonic() - started < 3
    fast = WeCubePluginHook("wecube_scripted", registry=plugin_registry, retry_limit=0, deadline=0.5)
    with pytest.raises(WeCubePluginError, match=r"within the 0.5 s deadline"):
        fast.call("faults/fault/echo", {"message": "hi"})


def test_a_deadline_that_is_no_number_is_a_clear_error(scripted_server, plugin_registry, monkeypatch):
    conn = {
        "conn_type": "wecube",
        "host": scripted_server.url,
        "password": "scripted-token",
        "extra": {"deadline": "soon"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_BADDEADLINE", json.dumps(conn))
    with pytest.raises(
        WeCubePluginError, match=r"connection extra 'deadline' must be a number above 0 \(deadline\), got 'soon'"
    ):
        WeCubePluginHook("wecube_baddeadline", registry=plugin_registry).call("faults/fault/echo", {"message": "hi"})
    assert scripted_server.requests == []


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "read-to-close"])
def test_answer_larger_than_the_cap_is_refused_and_not_retried(
    scripted_server, plugin_registry, monkeypatch, announced
):
    conn = {
        "conn_type": "wecube",
        "host": scripted_server.url,
        "password": "scripted-token",
        "extra": {"max_response_bytes": 100_000},
    }
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_CAP", json.dumps(conn))
    big = json.dumps(answer(ok("0", message="x" * 300_000))).encode()
    scripted_server.reply(big, content_length=announced)
    hook = WeCubePluginHook("wecube_cap", registry=plugin_registry, retry_delay=0.01)
    with pytest.raises(
        WeCubePluginError, match=r"more than the 100000 bytes allowed; raise connection extra 'max_response_bytes'"
    ):
        hook.call("faults/fault/echo", {"message": "hi"})
    assert len(scripted_server.requests) == 1
    scripted_server.reply(answer(ok("0", message="small")))
    assert hook.call("faults/fault/echo", {"message": "hi"}).outputs[0]["message"] == "small"


def test_connection_read_once_per_hook_not_per_call(hook, monkeypatch):
    """Reading the connection twice per call was 17 % of a call's time."""
    reads = []
    original = WeCubePluginHook.get_connection.__func__

    def counting(cls, conn_id):
        reads.append(conn_id)
        return original(cls, conn_id)

    monkeypatch.setattr(WeCubePluginHook, "get_connection", classmethod(counting))
    for i in range(3):
        assert hook.call("faults/fault/echo", {"message": f"m{i}"}).outputs[0]["message"] == f"m{i}"
    assert reads == ["wecube_default"]


def test_an_adapter_of_the_callers_own_still_works(hook):
    from requests.adapters import HTTPAdapter

    own = WeCubePluginHook(registry=hook.registry, adapter=HTTPAdapter())
    assert own.call("faults/fault/echo", {"message": "own"}).outputs[0]["message"] == "own"
    plain = WeCubePluginHook(registry=hook.registry, tcp_keep_alive=False)
    assert plain.call("faults/fault/echo", {"message": "plain"}).outputs[0]["message"] == "plain"


def test_deadline_message_shows_no_credentials_of_the_url(scripted_server, plugin_registry, monkeypatch):
    host = scripted_server.url.replace("http://", "http://ops:zz-url-secret-zz@")
    conn = {"conn_type": "wecube", "host": host, "password": "scripted-token", "extra": {"deadline": 0.5}}
    monkeypatch.setenv("AIRFLOW_CONN_WECUBE_URLSECRET", json.dumps(conn))
    scripted_server.reply(trickling_answer(), trickle=0.1)
    with pytest.raises(WeCubePluginError, match="deadline") as e:
        WeCubePluginHook("wecube_urlsecret", registry=plugin_registry, retry_limit=0).call(
            "faults/fault/echo", {"message": "hi"}
        )
    assert "zz-url-secret-zz" not in str(e.value) and f"127.0.0.1:{scripted_server.port}/faults" in str(e.value)
