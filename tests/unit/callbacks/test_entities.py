"""Callbacks as answers per entity: how one is cut up, which are refused, and how the answers are judged
together by the synchronous protocol's rules (taskman POSTs one callback per entity of a call)."""

from __future__ import annotations

import pytest

from airflow_wecube.callbacks.entities import merge_answers, split_callback, timeout_answer, waiting
from airflow_wecube.callbacks.tokens import CallbackError
from airflow_wecube.protocol.wire import match_outputs, output_failed

OPTIONS = ["Approve", "Reject"]


def out(cb, **kw):
    return {"callbackParameter": cb, "comment": "", "taskFormOutput": "", "errorCode": "0", "errorMessage": "", **kw}


def cb_body(code, *outputs, message=""):
    return {"resultCode": code, "resultMessage": message, "results": {"requestId": "r", "outputs": list(outputs)}}


def test_taskman_sends_one_output_per_callback_it_answers_that_entity_only():
    assert split_callback(cb_body("Approve", out("b", comment="ok")), ["a", "b"]) == {
        "b": cb_body("Approve", out("b", comment="ok"))
    }


def test_a_batched_callback_is_cut_into_one_answer_per_entity():
    split = split_callback(cb_body("0", out("a"), out("b", comment="bb")), ["a", "b"])
    assert split == {"a": cb_body("0", out("a")), "b": cb_body("0", out("b", comment="bb"))}


def test_a_callback_without_outputs_answers_every_entity():
    body = cb_body("1", message="platform down")
    assert split_callback(body, ["a", "b"]) == {"a": body, "b": body}


def test_an_output_without_callback_parameter_answers_a_one_entity_call_only():
    body = cb_body("Approve", {"comment": "old taskman", "errorCode": "0"})
    assert list(split_callback(body, ["0"])) == ["0"]
    with pytest.raises(CallbackError, match="no callbackParameter, and the call sent 2 entities"):
        split_callback(body, ["a", "b"])


@pytest.mark.parametrize(
    ("outputs", "words"),
    [
        ([out("c")], "callbackParameter 'c', which this call did not send"),
        ([out("a"), out("c")], "did not send"),
        ([out("a"), out("a", comment="again")], "two outputs for callbackParameter 'a'"),
    ],
)
def test_outputs_the_call_cannot_have_refuse_the_whole_callback(outputs, words):
    with pytest.raises(CallbackError, match=words):
        split_callback(cb_body("0", *outputs), ["a", "b"])


def test_waiting_lists_unanswered_entities_in_call_order():
    assert waiting(["a", "b", "c"], {"b": {}}) == ["a", "c"]


def judge(answers, callbacks, options=()):
    body, chosen = merge_answers(answers, callbacks, list(options))
    matched, unexpected = match_outputs(callbacks, body["results"]["outputs"])
    assert body["resultCode"] == "0" and not unexpected
    return {o["callbackParameter"]: o for o in matched}, chosen


def test_two_approvals_merge_into_two_outputs_with_their_options():
    outs, chosen = judge(
        {"a": cb_body("Approve", out("a", comment="ship")), "b": cb_body("Reject", out("b", comment="freeze"))},
        ["a", "b"],
        OPTIONS,
    )
    assert chosen == {"a": "Approve", "b": "Reject"}
    assert [o["chosenOption"] for o in outs.values()] == ["Approve", "Reject"]
    assert not any(output_failed(o) for o in outs.values())  # rejecting is judged by the operator, not here


def test_an_entity_not_answered_has_no_output():
    outs, _ = judge({"a": cb_body("Approve", out("a"))}, ["a", "b"], OPTIONS)
    assert not output_failed(outs["a"])
    assert output_failed(outs["b"]) and outs["b"]["errorMessage"] == "no output for callbackParameter b"


@pytest.mark.parametrize(
    ("code", "options", "words"),
    [
        ("1", OPTIONS, "task rejected by bob"),  # taskman: no rejecting option, errorCode 1 in the output
        ("0", OPTIONS, "resultCode 0: no option was chosen"),
        ("Maybe", OPTIONS, "chose 'Maybe', not one of the allowedOptions"),
        ("1", (), "task rejected by bob"),
        ("2", (), "resultCode 2"),
    ],
)
def test_a_failed_answer_fails_its_entity_only(code, options, words):
    bad = out("b", errorCode="1", errorMessage="task rejected by bob") if code == "1" else out("b")
    outs, _ = judge(
        {"a": cb_body(options[0] if options else "0", out("a")), "b": cb_body(code, bad)}, ["a", "b"], options
    )
    assert not output_failed(outs["a"])
    assert output_failed(outs["b"]) and words in outs["b"]["errorMessage"]


def test_a_failure_without_outputs_fails_each_entity_with_its_message():
    body = cb_body("1", message="platform down")
    outs, _ = judge({"a": body, "b": body}, ["a", "b"])
    assert [(o["errorCode"], o["errorMessage"]) for o in outs.values()] == [("1", "platform down")] * 2


def test_a_timed_out_entity_takes_the_policy_option():
    outs, chosen = judge({"a": cb_body("Approve", out("a")), "b": timeout_answer("b", "Reject")}, ["a", "b"], OPTIONS)
    assert chosen == {"a": "Approve", "b": "Reject"} and outs["b"]["timedOut"] is True and not output_failed(outs["b"])
