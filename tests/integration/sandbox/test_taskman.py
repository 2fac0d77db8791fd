"""The sandbox ``taskman`` plugin against the real sandbox process: tasks created through taskman's
paths wait in the inbox, and answering one POSTs taskman's callback to a real loopback receiver."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.fixtures.sandbox import free_port
from tests.fixtures.waiting import wait_for
from tests.integration.sandbox.helpers import uniq

CUSTOM = "/taskman/api/v1/plugin/task/create/custom"
FORM = "/taskman/api/v1/plugin/task/create"
API = "/taskman/inbox/api/tasks"


def create(sandbox, path, inputs, *, request_id=None, **top):
    """POST a create call with top-level extras (``allowedOptions``, ``dueDate``); its JSON answer."""
    body = {"requestId": request_id or uniq("req"), "operator": "pytest", "inputs": inputs, **top}
    r = requests.post(sandbox.url + path, json=body, headers=sandbox.headers, timeout=30)
    assert r.status_code == 200, r.text
    return body["requestId"], r.json()


def approval(callback_url, cb="e1", **extra):
    return {
        "callbackParameter": cb,
        "callbackUrl": callback_url,
        "procInstId": "dag__run",
        "taskName": "Approve the release",
        "roleName": "SUPER_ADMIN",
        "reporter": "pytest",
        **extra,
    }


def tasks_of(sandbox, request_id, status="all"):
    r = requests.get(sandbox.url + API, params={"requestId": request_id, "status": status}, timeout=10)
    r.raise_for_status()
    return r.json()


def action(sandbox, task_id, verb, body=None):
    return requests.post(f"{sandbox.url}{API}/{task_id}/{verb}", json=body or {}, timeout=30)


def test_approval_task_waits_in_the_inbox_then_its_callback_reaches_the_receiver(sandbox, scripted_server):
    scripted_server.reply({"status": "OK", "message": "success"})
    rid, ack = create(
        sandbox, CUSTOM, [approval(scripted_server.url + "/cb/tok")], allowedOptions=["approve", "reject"]
    )
    assert ack == {
        "resultCode": "0",
        "resultMessage": "success",
        "results": {
            "outputs": [
                {"callbackParameter": "e1", "errorCode": "0", "errorMessage": "", "comment": "", "taskFormOutput": ""}
            ]
        },
    }
    (task,) = tasks_of(sandbox, rid, status="open")
    assert task["allowedOptions"] == ["approve", "reject"] and task["type"] == "APPROVAL"
    assert task["callback"] is None and scripted_server.requests == []

    r = action(sandbox, task["id"], "complete", {"option": "approve", "comment": "looks good", "handler": "alice"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "done" and done["chosenOption"] == "approve" and done["closedBy"] == "alice"
    assert done["callback"]["status"] == "delivered" and done["callback"]["attempts"] == 1
    (sent,) = scripted_server.requests
    assert sent["method"] == "POST" and sent["path"] == "/cb/tok"
    assert sent["body"] == {
        "resultCode": "approve",
        "resultMessage": "",
        "results": {
            "requestId": rid,
            "outputs": [
                {
                    "callbackParameter": "e1",
                    "comment": "looks good",
                    "taskFormOutput": "",
                    "errorCode": "0",
                    "errorMessage": "",
                }
            ],
        },
    }
    assert done["callback"]["body"] == sent["body"]
    assert tasks_of(sandbox, rid, status="open") == []
    again = action(sandbox, task["id"], "complete", {"option": "reject"})
    assert again.status_code == 409 and "already done" in again.text
    assert len(scripted_server.requests) == 1


def test_reject_chooses_the_rejecting_option_or_fails_the_entity(sandbox, scripted_server):
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)], allowedOptions="Approve,Deny")
    (task,) = tasks_of(sandbox, rid)
    assert action(sandbox, task["id"], "reject", {"comment": "not now"}).json()["chosenOption"] == "Deny"
    body = scripted_server.requests[-1]["body"]
    assert body["resultCode"] == "Deny" and body["results"]["outputs"][0]["errorCode"] == "0"
    assert body["results"]["outputs"][0]["comment"] == "not now"

    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url, handler="bob")])
    (task,) = tasks_of(sandbox, rid)
    assert action(sandbox, task["id"], "reject", {"comment": "too risky"}).json()["status"] == "rejected"
    body = scripted_server.requests[-1]["body"]
    assert body["resultCode"] == "1"
    (out,) = body["results"]["outputs"]
    assert out["errorCode"] == "1" and out["errorMessage"] == "task rejected by bob: too risky"
    assert out["comment"] == "too risky" and body["results"]["requestId"] == rid


def test_a_bad_answer_is_refused_and_changes_nothing(sandbox, scripted_server):
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)], allowedOptions=["approve", "reject"])
    (task,) = tasks_of(sandbox, rid)
    for body, message in (
        ({"option": "maybe"}, "option 'maybe' is not one task"),
        ({}, "choose an option"),
        ({"option": "approve", "taskFormOutput": {"x": 1}}, "has no form"),
        ({"option": "approve", "comment": 5}, "comment must be a string"),
    ):
        r = action(sandbox, task["id"], "complete", body)
        assert r.status_code == 400 and message in r.json()["detail"], r.text
    assert action(sandbox, "nope", "complete").status_code == 404
    assert action(sandbox, task["id"], "redeliver").status_code == 409
    assert tasks_of(sandbox, rid, status="open")[0]["id"] == task["id"]
    assert scripted_server.requests == []


def test_a_repeated_request_id_gets_the_first_answer_and_no_second_task(sandbox, scripted_server):
    rid = uniq("dup")
    inputs = [approval(scripted_server.url, "a"), approval(scripted_server.url, "b")]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: create(sandbox, CUSTOM, inputs, request_id=rid)[1], range(4)))
    assert all(a == answers[0] for a in answers) and answers[0]["resultCode"] == "0"
    assert sorted(t["callbackParameter"] for t in tasks_of(sandbox, rid)) == ["a", "b"]
    _, other = create(sandbox, FORM, [approval(scripted_server.url)], request_id=rid)
    assert other["resultCode"] == "1" and "already used for taskman/task/create-custom" in other["resultMessage"]


def test_bad_inputs_fail_their_entity_and_create_nothing_for_it(sandbox, scripted_server):
    good = approval(scripted_server.url, "ok")
    no_url = {**approval("", "no-url")}
    path_only = approval("/platform/v1/callback", "path")
    ftp = approval("ftp://x/y", "ftp")
    rid, ack = create(sandbox, CUSTOM, [good, no_url, path_only, ftp])
    assert ack["resultCode"] == "1" and ack["resultMessage"].startswith("3 of 4 entities failed")
    errors = {o["callbackParameter"]: o["errorMessage"] for o in ack["results"]["outputs"]}
    assert errors["ok"] == ""
    assert errors["no-url"] == "missing required input(s): callbackUrl"
    assert "is a path, and the sandbox has no base URL" in errors["path"]
    assert "must be an http(s) URL or a path" in errors["ftp"]
    assert [t["callbackParameter"] for t in tasks_of(sandbox, rid)] == ["ok"]

    rid, ack = create(sandbox, CUSTOM, [approval(scripted_server.url)], allowedOptions={"a": 1})
    assert ack["resultCode"] == "1" and "allowedOptions must be a list of strings" in ack["resultMessage"]
    rid2, ack = create(sandbox, CUSTOM, [approval(scripted_server.url)], dueDate="tomorrow")
    assert ack["resultCode"] == "1" and "dueDate must be minutes from now" in ack["resultMessage"]
    assert tasks_of(sandbox, rid) == [] and tasks_of(sandbox, rid2) == []
    rid, ack = create(
        sandbox,
        FORM,
        [{"callbackParameter": "f", "callbackUrl": scripted_server.url, "procInstId": "p", "taskFormInput": "[1, 2]"}],
    )
    assert "taskFormInput must be a JSON object" in ack["results"]["outputs"][0]["errorMessage"]
    # a corrected retry with the same requestId goes through: the failed call stored nothing
    rid, ack = create(sandbox, CUSTOM, [approval(scripted_server.url)], request_id=rid2, dueDate="30")
    assert ack["resultCode"] == "0" and tasks_of(sandbox, rid2)[0]["dueAt"] is not None


def test_form_task_sends_the_form_back_as_task_form_output(sandbox, scripted_server):
    form = {"formMetaId": "m1", "formDataEntities": [{"oid": "h1", "formItemValues": [{"attrName": "cpu"}]}]}
    entity = {
        "callbackParameter": "f1",
        "callbackUrl": scripted_server.url,
        "procInstId": "p1",
        "taskFormInput": json.dumps(form),
    }
    rid, ack = create(sandbox, FORM, [entity, {**entity, "callbackParameter": "f2"}])
    assert ack["resultCode"] == "0"
    first, second = sorted(tasks_of(sandbox, rid), key=lambda t: t["callbackParameter"])
    assert first["type"] == "DYNAMICFORM" and json.loads(first["taskFormInput"]) == form
    answered = {**form, "answered": True}
    action(sandbox, first["id"], "complete", {"taskFormOutput": answered, "comment": "filled"})
    action(sandbox, second["id"], "complete", {})
    one, two = (r["body"] for r in scripted_server.requests)
    assert one["resultCode"] == "0" and json.loads(one["results"]["outputs"][0]["taskFormOutput"]) == answered
    assert json.loads(two["results"]["outputs"][0]["taskFormOutput"]) == form  # unchanged form by default
    assert two["results"]["outputs"][0]["callbackParameter"] == "f2"


def test_a_receiver_that_is_down_gets_the_callback_when_it_comes_back(sandbox, scripted_server):
    scripted_server.reply("unavailable", status=503)
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)])
    (task,) = tasks_of(sandbox, rid)
    first = action(sandbox, task["id"], "complete", {"comment": "go"}).json()
    assert first["callback"]["status"] == "pending" and "HTTP 503" in first["callback"]["lastError"]
    assert first["callback"]["attempts"] == 1 and first["callback"]["nextAttemptAt"]
    scripted_server.reply({"status": "OK"})
    done = wait_for(
        lambda: (t := tasks_of(sandbox, rid)[0])["callback"]["status"] == "delivered" and t, what="redelivery"
    )
    assert done["callback"]["attempts"] >= 2 and done["callback"]["lastError"] is None
    assert len(scripted_server.requests) == done["callback"]["attempts"]
    assert all(r["body"] == scripted_server.requests[0]["body"] for r in scripted_server.requests)


def test_a_delivery_that_gives_up_is_kept_and_can_be_redelivered(sandbox, scripted_server):
    scripted_server.reply("boom", status=500)
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)])
    (task,) = tasks_of(sandbox, rid)
    action(sandbox, task["id"], "complete")
    failed = wait_for(
        lambda: (t := tasks_of(sandbox, rid)[0])["callback"]["status"] == "failed" and t, what="retries used up"
    )
    assert failed["callback"]["attempts"] == 4 == len(scripted_server.requests)  # WECUBE_SANDBOX_CALLBACK_ATTEMPTS
    scripted_server.reply({"status": "OK"})
    again = action(sandbox, task["id"], "redeliver").json()
    assert again["callback"]["status"] == "delivered" and len(scripted_server.requests) == 5
    assert action(sandbox, task["id"], "redeliver").status_code == 409


def test_a_refusing_receiver_is_not_retried_and_a_dead_one_is(sandbox, scripted_server):
    scripted_server.reply({"detail": "unknown callback token"}, status=404)
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url + "/cb/forged")])
    (task,) = tasks_of(sandbox, rid)
    cb = action(sandbox, task["id"], "complete").json()["callback"]
    assert cb["status"] == "failed" and cb["attempts"] == 1 and "HTTP 404" in cb["lastError"]
    scripted_server.reply({"status": "ERROR", "message": "None process instance found"})
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)])
    cb = action(sandbox, tasks_of(sandbox, rid)[0]["id"], "complete").json()["callback"]
    assert cb["status"] == "failed" and "None process instance found" in cb["lastError"]

    secret = uniq("cb/token")
    rid, _ = create(sandbox, CUSTOM, [approval(f"http://127.0.0.1:{free_port()}/{secret}?sig={secret}")])
    action(sandbox, tasks_of(sandbox, rid)[0]["id"], "complete")
    failed = wait_for(
        lambda: (t := tasks_of(sandbox, rid)[0])["callback"]["status"] == "failed" and t, what="retries used up"
    )
    assert failed["callback"]["attempts"] == 4 and "ConnectionError" in failed["callback"]["lastError"]
    # the callback URL's token stays out of the error shown and out of the sandbox's log
    assert "<path>" in failed["callback"]["lastError"] and secret not in failed["callback"]["lastError"]
    log = sandbox.log_path.read_text(errors="replace")
    assert f"callback of task {failed['id']}, attempt 4" in log and secret not in log


def test_the_page_lists_open_tasks_and_its_forms_answer_them(sandbox, scripted_server):
    name = uniq("Page task")
    rid, _ = create(
        sandbox,
        CUSTOM,
        [approval(scripted_server.url, taskName=name, taskDescription="<b>x</b>")],
        allowedOptions=["approve", "reject"],
    )
    (task,) = tasks_of(sandbox, rid)
    page = requests.get(sandbox.url + "/taskman/inbox", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert name in page.text and "&lt;b&gt;x&lt;/b&gt;" in page.text
    form_action = f'action="/taskman/inbox/tasks/{task["id"]}/complete"'
    assert form_action in page.text and 'value="approve"' in page.text

    bad = requests.post(
        f"{sandbox.url}/taskman/inbox/tasks/{task['id']}/complete",
        data={"option": "maybe"},
        allow_redirects=False,
        timeout=10,
    )
    assert bad.status_code == 303 and "error=" in bad.headers["location"]
    shown = requests.get(sandbox.url + bad.headers["location"], timeout=10).text
    assert "is not one task" in shown and scripted_server.requests == []

    r = requests.post(
        f"{sandbox.url}/taskman/inbox/tasks/{task['id']}/complete",
        data={"option": "approve", "comment": "from the page", "handler": "carol"},
        timeout=10,
    )
    assert r.status_code == 200 and r.url.startswith(sandbox.url + "/taskman/inbox")
    assert form_action not in r.text and "from the page" in r.text and "delivered" in r.text
    (sent,) = scripted_server.requests
    assert sent["body"]["resultCode"] == "approve"
    assert sent["body"]["results"]["outputs"][0]["comment"] == "from the page"


def test_two_people_answering_at_once_send_one_callback(sandbox, scripted_server):
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)], allowedOptions=["approve", "reject"])
    (task,) = tasks_of(sandbox, rid)
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(
            pool.map(
                lambda i: action(sandbox, task["id"], "complete", {"option": ["approve", "reject"][i % 2]}).status_code,
                range(6),
            )
        )
    assert codes == [200, 409, 409, 409, 409, 409]
    (sent,) = scripted_server.requests
    assert sent["body"]["resultCode"] == tasks_of(sandbox, rid)[0]["chosenOption"]


def test_an_overdue_task_says_so(sandbox, scripted_server):
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)], dueDate="2020-01-01T00:00:00Z")
    (task,) = tasks_of(sandbox, rid)
    assert task["overdue"] is True and task["dueAt"] == "2020-01-01T00:00:00+00:00"
    rid, _ = create(sandbox, CUSTOM, [approval(scripted_server.url)], dueDate=60)
    assert tasks_of(sandbox, rid)[0]["overdue"] is False
