"""Helpers shared by the sandbox integration tests: unique names and protocol calls for one entity."""

from __future__ import annotations

import secrets

import requests


def uniq(prefix: str) -> str:
    """A name no other test (or earlier run against the same DB) uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


def outputs(response: requests.Response, code: str = "0") -> list[dict]:
    """The outputs of a protocol answer, after checking HTTP 200 and its ``resultCode``."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resultCode"] == code, body
    return body["results"]["outputs"]


def one(sandbox, path: str, code: str = "0", request_id: str | None = None, **entity) -> dict:
    """Call ``path`` for one entity (``callbackParameter`` ``x``); its output."""
    (out,) = outputs(sandbox.post(path, [{"callbackParameter": "x", **entity}], request_id=request_id), code=code)
    return out


def query_ci(sandbox, ci_type: str, name: str) -> list[dict]:
    """The CMDB items of ``ci_type`` named ``name``."""
    return one(sandbox, "/cmdb/v1/ci/query", type=ci_type, name=name)["items"]
