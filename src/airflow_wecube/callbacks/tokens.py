"""The asynchronous half of the WeCube plugin protocol: callback tokens, URLs and bodies.

An asynchronous interface (``isAsyncProcessing="Y"``) answers the request at once with an
acknowledgement and later POSTs the real result to the ``callbackUrl`` it was given. Each call gets
its own URL, ``<callback base>/wecube/callback/<token>``: the token is random (``secrets.token_urlsafe``),
so nobody but the plugin that got it can answer, and only its SHA-256 is stored. The body is the
protocol's response (taskman's ``PluginTaskCreateResp``)::

    {"resultCode": "0" | "<chosen option>", "resultMessage": "...",
     "results": {"requestId": "...", "allowedOptions": ["<chosen option>"]?,
                 "outputs": [{"callbackParameter": "...", "errorCode": "0", "comment": "...", ...}]}}

Pure: no Airflow import.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from pydantic import ValidationError

from airflow_wecube.protocol.wire import PluginResponse

#: the route below the provider's app (mounted at ``/wecube``)
CALLBACK_PATH = "/wecube/callback/"
#: tokens are ``secrets.token_urlsafe(32)``: 43 characters of ``[A-Za-z0-9_-]``
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,128}")
#: the largest callback body accepted (bytes)
MAX_BODY_BYTES = 1024 * 1024
#: options that mean no, when an APPROVAL operator is not told which of its options reject
REJECT_WORDS = frozenset({"reject", "rejected", "deny", "denied", "disapprove", "decline", "no"})


class CallbackError(ValueError):
    """A callback body that is not the protocol's (the route answers 400 with this message)."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored instead of the token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def callback_url(base: str, token: str) -> str:
    """``base`` (an http(s) URL, or a path for plugins that put their gateway URL before it) + the route."""
    return base.rstrip("/") + CALLBACK_PATH + token


def base_problem(base: str | None) -> str | None:
    """Why ``base`` cannot start callback URLs, or None."""
    if not base:
        return (
            "no callback base URL: set [wecube] callback_base_url (env AIRFLOW__WECUBE__CALLBACK_BASE_URL) or "
            "[api] base_url to the URL plugins reach the Airflow API server at, e.g. https://airflow.example.com"
        )
    if not (re.match(r"https?://[^/\s]+", base) or base.startswith("/")) or any(c.isspace() for c in base):
        return (
            f"[wecube] callback_base_url / [api] base_url {base!r} is neither an http(s) URL nor a path "
            "starting with '/'"
        )
    return None


def parse_callback(payload: Any) -> PluginResponse:
    """The callback body as a :class:`PluginResponse`; :class:`CallbackError` says what is wrong."""
    if not isinstance(payload, dict):
        raise CallbackError(f"the body must be a JSON object, got {type(payload).__name__}")
    if "resultCode" not in payload:
        raise CallbackError("the body has no resultCode")
    code = payload["resultCode"]
    if isinstance(code, bool) or not isinstance(code, (str, int)) or str(code).strip() == "":
        raise CallbackError(f"resultCode must be a non-empty string, got {code!r}")
    results = payload.get("results", {})
    if not isinstance(results, dict):
        raise CallbackError(f"results must be an object, got {type(results).__name__}")
    outputs = results.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise CallbackError("results.outputs must be a list of objects")
    rid = results.get("requestId")
    if rid is not None and not isinstance(rid, (str, int)):
        raise CallbackError(f"results.requestId must be a string, got {type(rid).__name__}")
    options = results.get("allowedOptions")
    if options is not None and (not isinstance(options, list) or not all(isinstance(o, str) for o in options)):
        raise CallbackError("results.allowedOptions must be a list of strings")
    try:
        parsed = PluginResponse.model_validate({**payload, "resultCode": str(code)})
    except ValidationError as e:
        first = e.errors()[0]
        raise CallbackError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return parsed


def chosen_option(parsed: PluginResponse) -> str:
    """The option a person chose: ``results.allowedOptions[0]`` when it holds exactly one (older WeCube
    platforms), else ``resultCode`` (taskman and the current platform)."""
    options = (parsed.results.model_extra or {}).get("allowedOptions")
    if isinstance(options, list) and len(options) == 1:
        return str(options[0])
    return str(parsed.result_code)


def reject_options(allowed: list[str], explicit: list[str] | None = None) -> set[str]:
    """The options that reject: ``explicit`` when given, else those of ``allowed`` that mean no."""
    if explicit is not None:
        return set(explicit)
    return {o for o in allowed if o.strip().lower() in REJECT_WORDS}
