"""Untrusted JSON with limits: size, nesting depth (a deeply nested file is refused, not a crash)."""

from __future__ import annotations

import json
from typing import Any

from airflow_wecube.processes.errors import ProcessError

MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 32


def _depth(doc: Any) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def load_json(data: bytes | str, source: str) -> Any:
    """The parsed document; :class:`ProcessError` for malformed, too large or too deep input."""
    if len(data) > MAX_JSON_BYTES:
        raise ProcessError(f"refused: JSON larger than {MAX_JSON_BYTES} bytes", source=source)
    try:
        doc = json.loads(data)
    except RecursionError:
        raise ProcessError(f"refused: JSON nested deeper than {MAX_DEPTH} levels", source=source) from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ProcessError(f"malformed JSON: {e}", source=source) from None
    if _depth(doc) > MAX_DEPTH:
        raise ProcessError(f"refused: JSON nested deeper than {MAX_DEPTH} levels", source=source)
    return doc
