"""REST services registered from OpenAPI documents, called through ``WeCubePluginHook.call``.

Against real servers on loopback: the Ticket Desk tool (tests/fixtures/rest_server.py, registered
from its own ``/api/openapi.json``) and the sandbox (registered from its FastAPI ``/openapi.json``).
"""

from __future__ import annotations

import json

import pytest
import requests

from airflow_wecube.exceptions import ParameterValidationError, WeCubePluginError
from airflow_wecube.hooks.plugin import WeCubePluginHook
from airflow_wecube.registry import Registry, load_manifest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rest_registry(ticket_api, sandbox, tmp_path_factory):  # noqa: F811
    """A registry with the Ticket Desk (``tickets``) and the sandbox (``sandbox``) documents."""
    folder = tmp_path_factory.mktemp("rest")
    registry = Registry(folder / "registry")
    (folder / "tickets.json").write_text(json.dumps(ticket_api.openapi()))
    registry.register(load_manifest(folder / "tickets.json", package="tickets"))
    (folder / "sandbox.json").write_text(requests.get(f"{sandbox.url}/openapi.json", timeout=10).text)
    registry.register(load_manifest(folder / "sandbox.json", package="sandbox", version="1.0.0"))
    return registry


def connect(monkeypatch, conn_id: str, **conn) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "wecube", **conn}))
    return conn_id


@pytest.fixture
def tickets(ticket_api, rest_registry, monkeypatch):  # noqa: F811
    ticket_api.clear()
    conn_id = connect(monkeypatch, "tickets", host=ticket_api.url, password=ticket_api.api_key)
    return WeCubePluginHook(conn_id, registry=rest_registry, retry_delay=0.01)


def test_registered_from_the_tools_own_document(rest_registry):
    svc = rest_registry.service("tickets/tickets/createTicket")
    assert svc.interface.protocol == "rest"
    assert svc.interface.rest.server_url == "/api"  # FastAPI's mounted app: a path prefix
    assert svc.interface.rest.auth.name == "X-API-Key"
    ins = {p.name: p for p in svc.interface.inputs}
    assert ins["title"].required and ins["title"].json_schema["minLength"] == 3
    assert ins["priority"].json_schema["enum"] == ["low", "high"]
    assert ins["password"].sensitive
    assert {s.summary()["protocol"] for s in rest_registry.services()} == {"rest"}


def test_call_sends_typed_request_and_returns_json_outputs(tickets, ticket_api):
    result = tickets.call(
        "tickets/tickets/createTicket",
        {"title": "disk full", "priority": "high", "labels": ["ops"], "owner": {"name": "ann"}},
        request_id="create-1",
    )
    assert result.ok
    out = result.outputs[0]
    assert out["title"] == "disk full" and out["priority"] == "high" and out["owner"]["name"] == "ann"
    assert out["callbackParameter"] == "0" and out["errorCode"] == "0"
    (call,) = ticket_api.calls()
    assert call["method"] == "POST" and call["raw_path"] == "/api/tickets"
    assert json.loads(call["body"]) == {
        "title": "disk full",
        "priority": "high",
        "labels": ["ops"],
        "owner": {"name": "ann"},
    }
    # the API key goes where the document's security scheme says, and nowhere else
    assert call["headers"]["x-api-key"] == ticket_api.api_key
    assert "authorization" not in call["headers"]
    assert call["headers"]["idempotency-key"] == "create-1"
    got = tickets.call("tickets/tickets/getTicket", {"ticket_id": out["id"]})
    assert got.outputs[0]["title"] == "disk full"


def test_query_parameters_and_lists(tickets, ticket_api):
    out = tickets.call("tickets/tickets/listTickets", {"status": "closed", "limit": 5, "tag": ["a b", "c&d"]}).outputs[
        0
    ]
    assert out["status"] == "closed" and out["limit"] == 5 and out["tags"] == ["a b", "c&d"]
    assert "idempotency-key" not in ticket_api.calls()[0]["headers"]  # GET: no key needed


def test_bad_values_refused_before_any_request_all_at_once(tickets, ticket_api):
    with pytest.raises(ParameterValidationError) as e:
        tickets.call(
            "tickets/tickets/createTicket",
            [
                {"callbackParameter": "a", "title": "no", "priority": "urgent", "labels": "ops"},
                {
                    "callbackParameter": "b",
                    "title": "fine title",
                    "owner": {"name": 7},
                    "colour": "red",
                    "password": 12345,
                },
                {"callbackParameter": "c"},
            ],
        )
    msg = str(e.value)
    assert "entity a: title: 'no' is too short" in msg
    assert "entity a: priority: 'urgent' is not one of ['low', 'high']" in msg
    assert "entity a: labels: 'ops' is not of type 'array'" in msg
    assert "entity b: owner.name: 7 is not of type 'string'" in msg  # nested objects too
    assert "entity b: unknown parameter(s) colour" in msg
    assert "entity b: password: invalid value (fails 'anyOf'; sensitive, not shown)" in msg
    assert "12345" not in msg
    assert "entity c: missing required title" in msg
    assert ticket_api.calls() == []


def test_slash_and_dots_in_a_path_parameter_cannot_change_the_path(tickets, ticket_api):
    out = tickets.call("tickets/tickets/getTicket", {"ticket_id": ".."}).outputs[0]
    assert out["id"] == ".."  # reached getTicket with the value, not /api
    with pytest.raises(WeCubePluginError):
        tickets.call("tickets/tickets/getTicket", {"ticket_id": "../../admin"})
    with pytest.raises(WeCubePluginError):
        tickets.call("tickets/tickets/getTicket", {"ticket_id": "x/../../../admin?y=1#z"})
    paths = [c["raw_path"] for c in ticket_api.calls()]
    assert paths == [
        "/api/tickets/%2E%2E",
        "/api/tickets/..%2F..%2Fadmin",
        "/api/tickets/x%2F..%2F..%2F..%2Fadmin%3Fy%3D1%23z",
    ]
    assert not any(p.startswith("/admin") for p in paths)


def test_failure_carries_status_and_the_bodys_message(tickets):
    with pytest.raises(WeCubePluginError) as e:
        tickets.call("tickets/tickets/getTicket", [{"ticket_id": "1"}, {"ticket_id": "missing-9"}], request_id="r404")
    err = e.value
    assert err.status_code == 404
    assert "HTTP 404 Not Found: ticket missing-9 not found" in str(err)
    result = err.result
    assert [o["errorCode"] for o in result.outputs] == ["0", "404"]
    assert result.succeeded[0]["id"] == "1" and result.failed[0]["callbackParameter"] == "1"


def test_many_entities_bounded_concurrency_results_in_input_order(ticket_api, rest_registry, monkeypatch):  # noqa: F811
    conn_id = connect(
        monkeypatch,
        "tickets_c3",
        host=ticket_api.url,
        password=ticket_api.api_key,
        extra=json.dumps({"rest_concurrency": 3}),
    )
    hook = WeCubePluginHook(conn_id, registry=rest_registry)
    ticket_api.clear()
    entities = [{"n": i, "delay": 0.05 * (8 - i)} for i in range(8)]
    result = hook.call("tickets/tools/slow", entities)
    assert [o["n"] for o in result.outputs] == list(range(8))
    assert [o["callbackParameter"] for o in result.outputs] == [str(i) for i in range(8)]
    assert ticket_api.peak() == 3
    assert all("rest_concurrency" not in c["headers"] for c in ticket_api.calls())


def test_post_retried_only_with_an_idempotency_key(tickets, ticket_api, rest_registry, monkeypatch):  # noqa: F811
    result = tickets.call("tickets/tools/flaky", {"fail_times": 2}, request_id="flaky-1")
    assert result.outputs[0]["attempts"] == 3
    assert [c["headers"].get("idempotency-key") for c in ticket_api.calls()] == ["flaky-1"] * 3
    # with the key turned off, a POST is sent once: a retry could create a duplicate
    conn_id = connect(
        monkeypatch,
        "tickets_nokey",
        host=ticket_api.url,
        password=ticket_api.api_key,
        extra=json.dumps({"idempotency_key": False}),
    )
    ticket_api.clear()
    with pytest.raises(WeCubePluginError, match="HTTP 503 Service Unavailable: try again"):
        WeCubePluginHook(conn_id, registry=rest_registry, retry_delay=0.01).call(
            "tickets/tools/flaky", {"fail_times": 1}
        )
    assert len(ticket_api.calls()) == 1


def test_sensitive_values_masked_in_outputs(tickets):
    out = tickets.call("tickets/tickets/createTicket", {"title": "with secret", "password": "hunter2"}).outputs[0]
    assert out["password"] == "***"


def test_wrong_key_is_a_failure_with_the_message(ticket_api, rest_registry, monkeypatch):  # noqa: F811
    conn_id = connect(monkeypatch, "tickets_bad", host=ticket_api.url, password="wrong")
    with pytest.raises(WeCubePluginError, match="HTTP 401 Unauthorized: bad API key"):
        WeCubePluginHook(conn_id, registry=rest_registry).call("tickets/tickets/getTicket", {"ticket_id": "1"})


def test_sandbox_document_services_called_over_rest(sandbox, rest_registry, monkeypatch):
    services = {s.name for s in rest_registry.services() if s.package == "sandbox"}
    assert "sandbox/sandbox/health_health_get" in services
    conn_id = connect(monkeypatch, "sandbox_rest", host=sandbox.url, password=sandbox.token)
    hook = WeCubePluginHook(conn_id, registry=rest_registry)
    assert hook.call("sandbox/sandbox/health_health_get", {}).outputs[0]["status"] == "ok"
    # the bearer token reaches the sandbox (its calls endpoint requires it); the query is typed
    sandbox.post("/faults/v1/fault/echo", [{"callbackParameter": "x", "message": "hi"}], request_id="rest-seen")
    out = hook.call("sandbox/sandbox/calls_sandbox_calls_get", {"request_id": "rest-seen"}).outputs[0]
    assert [c["requestId"] for c in out["result"]] == ["rest-seen"]
    with pytest.raises(ParameterValidationError, match="request_id: 5 is not valid under any of the given schemas"):
        hook.call("sandbox/sandbox/calls_sandbox_calls_get", {"request_id": 5})


def test_plugin_operator_made_from_an_openapi_operation(rest_registry):
    from airflow_wecube.operators.plugin import plugin_operator

    CreateTicket = plugin_operator("tickets/tickets/createTicket", registry_path=str(rest_registry.root))
    assert CreateTicket.__name__ == "TicketsTicketsCreateTicketOperator"
    assert ":param password: (string, optional, sensitive)" in CreateTicket.__doc__
    op = CreateTicket(task_id="t", title="disk full", priority="high")
    assert op.inputs == {"title": "disk full", "priority": "high"} and op.version == "2.3.0"
    with pytest.raises(ParameterValidationError, match="unknown parameter.*colour.*missing required title"):
        CreateTicket(task_id="u", colour="red")
