"""The callback half of the protocol: tokens, URLs, body parsing, the chosen option."""

from __future__ import annotations

import pytest

from airflow_wecube.callbacks.tokens import (
    TOKEN_RE,
    CallbackError,
    base_problem,
    callback_url,
    chosen_option,
    new_token,
    parse_callback,
    reject_options,
    token_hash,
)

TASKMAN = {
    "resultCode": "Approve",
    "resultMessage": "",
    "results": {
        "requestId": "r-1",
        "outputs": [
            {"callbackParameter": "0", "comment": "ok", "taskFormOutput": "", "errorCode": "0", "errorMessage": ""}
        ],
    },
}


def test_tokens_are_random_urlsafe_and_only_their_hash_is_kept():
    a, b = new_token(), new_token()
    assert a != b and TOKEN_RE.fullmatch(a) and len(a) >= 43
    assert token_hash(a) == token_hash(a) != token_hash(b) and a not in token_hash(a)


def test_url_is_built_below_the_base_path():
    assert callback_url("https://h/airflow/", "T") == "https://h/airflow/wecube/callback/T"
    assert callback_url("/gateway-relative", "T") == "/gateway-relative/wecube/callback/T"
    assert base_problem("https://h/airflow") is None and base_problem("/p") is None
    assert "callback_base_url" in base_problem(None)
    assert "neither an http(s) URL" in base_problem("ftp://x")


def test_taskman_body_parses_and_the_chosen_option_is_the_result_code():
    parsed = parse_callback(TASKMAN)
    assert parsed.results.request_id == "r-1" and chosen_option(parsed) == "Approve"
    older = {**TASKMAN, "resultCode": "0", "results": {**TASKMAN["results"], "allowedOptions": ["Reject"]}}
    assert chosen_option(parse_callback(older)) == "Reject"
    assert parse_callback({**TASKMAN, "resultCode": 0}).result_code == "0"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "JSON object"),
        ({"results": {}}, "no resultCode"),
        ({"resultCode": ""}, "non-empty"),
        ({"resultCode": True}, "non-empty"),
        ({"resultCode": "0", "results": []}, "results must be an object"),
        ({"resultCode": "0", "results": {"outputs": ["x"]}}, "list of objects"),
        ({"resultCode": "0", "results": {"requestId": {"a": 1}}}, "requestId"),
        ({"resultCode": "0", "results": {"allowedOptions": "Approve"}}, "allowedOptions"),
    ],
)
def test_bad_bodies_say_what_is_wrong(body, problem):
    with pytest.raises(CallbackError, match=problem):
        parse_callback(body)


def test_reject_options_default_to_the_ones_meaning_no():
    assert reject_options(["Approve", "Reject", "Deny", "Later"]) == {"Reject", "Deny"}
    assert reject_options(["Go", "Stop"], ["Stop"]) == {"Stop"}
