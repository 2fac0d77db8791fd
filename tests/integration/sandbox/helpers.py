"""Helpers shared by the sandbox integration tests: unique names, protocol calls for one entity, the
apps the deploy plugin started (their processes and metrics)."""

from __future__ import annotations

import secrets
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

#: how an account-service process started by the sandbox shows in its command line
SERVICE = b"airflow_wecube.sandbox.account_service"


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


def services_on(port: int) -> list[int]:
    """Pids of account-service processes started for ``port`` (from /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if SERVICE in args and str(port).encode() in args:
            pids.append(int(cmdline.parent.name))
    return pids


def metric_values(url: str) -> dict[str, float]:
    """``{name: value}`` of an app's metrics; a series with an ``operation`` label is ``name:operation``."""
    text = requests.get(url, timeout=5).text
    return {
        f"{s.name}:{s.labels['operation']}" if "operation" in s.labels else s.name: s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
