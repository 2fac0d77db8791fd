"""Reading Prometheus's answers: instant results, range bodies, frames and error messages.

Pure: no Airflow import, and pandas / numpy / msgspec are imported inside the functions that need
them. Errors always come from the HTTP answer itself (status and JSON body).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from airflow_wecube.prometheus.errors import PrometheusError, PrometheusQueryError, PrometheusUnreachableError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def error_message(body: Any) -> tuple[str | None, str | None]:
    """(errorType, error) from a Prometheus error body (bytes, str or dict)."""
    try:
        if isinstance(body, (bytes, str)):
            body = json.loads(body)
        if isinstance(body, dict) and body.get("error"):
            return body.get("errorType"), str(body["error"])
    except (ValueError, TypeError):
        pass
    return None, None


def query_error(status: int | None, body: Any, promql: str) -> PrometheusError:
    """The error for a refused query, with Prometheus's own ``errorType`` and message."""
    error_type, message = error_message(body)
    if message is None:
        text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
        message = text.strip()[:2000] or "(empty body)"
    cls = PrometheusQueryError if status in (400, 422) else PrometheusError
    return cls(
        f"Prometheus refused query {promql!r} (HTTP {status}"
        + (f", {error_type}" if error_type else "")
        + f"): {message}",
        status_code=status,
        error_type=error_type,
    )


def limit_error(exc: Exception) -> PrometheusError:
    """A request past its deadline (no answer in time) or an answer past the size cap."""
    from airflow_wecube.util.http_limits import DeadlineExceeded

    cls = PrometheusUnreachableError if isinstance(exc, DeadlineExceeded) else PrometheusError
    return cls(f"Prometheus: {exc}")


def _success_body(content: bytes) -> dict[str, Any] | None:
    """The JSON body when it says ``"status": "success"``, else None."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) and body.get("status") == "success" else None


def api_data(status: int, content: bytes, path: str) -> Any:
    """``data`` of a ``/api/v1/<path>`` answer; an error carries Prometheus's message."""
    body = _success_body(content)
    if status != 200 or body is None:
        error_type, message = error_message(content)
        raise PrometheusError(
            f"Prometheus /api/v1/{path} answered HTTP {status}: "
            f"{message or content[:500].decode(errors='replace').strip()}",
            status_code=status,
            error_type=error_type,
        )
    return body.get("data")


def instant_result(status: int, content: bytes, promql: str) -> list[dict[str, Any]]:
    """:func:`parse_instant_result` of a ``/api/v1/query`` answer; a refusal raises :func:`query_error`."""
    body = _success_body(content)
    if status != 200 or body is None:
        raise query_error(status, content, promql)
    return parse_instant_result(body.get("data"))


def series_name(labels: Mapping[str, str]) -> str:
    """``metric{a="b",c="d"}`` (labels sorted): the column name of a series."""
    labels = dict(labels)
    name = labels.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def parse_instant_result(data: Any) -> list[dict[str, Any]]:
    """Normalise ``data.result`` of an instant query into ``[{labels, value, timestamp}]``.

    A scalar becomes one series with no labels; a range-vector selector keeps ``values``
    (``[(timestamp, value), ...]``) with ``value`` the last one.
    """
    result_type = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else data
    if result_type in ("scalar", "string") or (
        isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict)
    ):
        ts, value = result
        return [{"labels": {}, "value": _to_float(value), "timestamp": float(ts)}]
    out = []
    for item in result or []:
        if "values" in item:
            values = [(float(t), _to_float(v)) for t, v in item["values"]]
            ts, value = values[-1] if values else (None, float("nan"))
            out.append({"labels": dict(item.get("metric", {})), "value": value, "timestamp": ts, "values": values})
        else:
            ts, value = item["value"]
            out.append({"labels": dict(item.get("metric", {})), "value": _to_float(value), "timestamp": float(ts)})
    return out


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


@lru_cache(maxsize=1)
def _range_decoder():
    """msgspec decoder for a ``query_range`` answer: one pass from bytes to typed structs."""
    import msgspec

    # defstruct, not class bodies: this module's postponed annotations would not resolve here
    series = msgspec.defstruct("Series", [("metric", dict[str, str], {}), ("values", list[tuple[float, str]], [])])
    data = msgspec.defstruct("Data", [("result", list[series], [])])
    body = msgspec.defstruct("Body", [("status", str), ("data", data | None, None)])
    return msgspec.json.Decoder(body)


def decode_range(content: bytes, promql: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(series name, ts ms int64, values float64)]`` from a ``query_range`` body.

    The body is decoded once, straight into typed structs (msgspec); the value strings
    (``"1.5"``, ``"NaN"``, ``"+Inf"``) become a float64 array in one pass.
    """
    import msgspec
    import numpy as np

    try:
        body = _range_decoder().decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise PrometheusError(
            f"Prometheus answered query {promql!r} with an unexpected body ({exc}): "
            f"{content[:200].decode(errors='replace').strip()!r}",
            status_code=200,
        ) from None
    if body.status != "success" or body.data is None:
        raise query_error(200, content, promql)
    out = []
    for item in body.data.result:
        values = item.values
        if not values:
            continue
        n = len(values)
        ts = np.fromiter([v[0] for v in values], dtype=np.float64, count=n)
        vals = np.fromiter([v[1] for v in values], dtype=np.float64, count=n)  # "NaN", "+Inf" parse too
        out.append((series_name(item.metric), np.rint(ts * 1000).astype(np.int64), vals))
    return out


def frame(columns: Mapping[str, tuple]) -> pd.DataFrame:
    """Aligned frame from ``{name: (ts_ms, values)}``: outer join on timestamps, UTC index."""
    import numpy as np
    import pandas as pd

    if not columns:
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="timestamp"), dtype=float)
    all_ts = [ts for ts, _ in columns.values()]
    first = all_ts[0]
    if all(len(ts) == len(first) and np.array_equal(ts, first) for ts in all_ts[1:]):
        index_ms = first
        data = {name: vals for name, (_, vals) in columns.items()}
    else:
        index_ms = np.unique(np.concatenate(all_ts))
        data = {}
        for name, (ts, vals) in columns.items():
            col = np.full(len(index_ms), np.nan)
            col[np.searchsorted(index_ms, ts)] = vals
            data[name] = col
    index = pd.DatetimeIndex(pd.to_datetime(index_ms, unit="ms", utc=True), name="timestamp")
    return pd.DataFrame(data, index=index, columns=list(columns))
