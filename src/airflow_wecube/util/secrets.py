"""The one rule for names that hold a secret: connection extras, OpenAPI parameters, CMDB attributes.

A name is split into lower-case words (``clientSecret``, ``X-Api-Key``, ``refresh_token``); it holds
a secret when it says password, secret, credential, authorization or bearer, names an API or private
key, or ends in ``token`` (``token_count`` and ``keyword`` do not). Pure and dependency-free, so the
registry (below everything) can use it too.
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
#: what a secret value shows as, wherever one is shown or stored (outputs, XCom, pages, callbacks)
MASK = "***"
SECRET_NAME = re.compile(r"pass(word|wd)|secret|credential|authorization|bearer|(api|private)_?key|token$")


def words(name: str) -> str:
    """``clientSecret`` -> ``client_secret``; ``X-Api-Key`` -> ``x_api_key``."""
    return _CAMEL.sub("_", name).lower().replace("-", "_").replace(" ", "_")


def secret_name(name: str) -> bool:
    """Whether a value under this name must be masked (never logged, shown or sent as a header)."""
    return bool(SECRET_NAME.search(words(name)))
