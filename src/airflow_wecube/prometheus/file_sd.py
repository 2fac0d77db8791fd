"""file_sd target files, the open-monitor way: one JSON file per job, edited under a file lock.

A file ``<file_sd_dir>/<job>.json`` holds Prometheus target groups
``[{"targets": ["host:port", ...], "labels": {"job": "<job>", ...}}]``. Edits are idempotent
(registering a registered target changes nothing and does not rewrite the file), atomic (write a
temporary file, rename) and serialised by ``<job>.json.lock`` so parallel tasks lose nothing.

Everything Prometheus would drop or misread without a word is refused before the file is touched:
a host starting with ``-``, an IPv6 literal outside brackets or a bad one, a port with a leading zero
or outside 1-65535, and reserved labels with values Prometheus cannot use (``__scheme__`` other than
http/https, a ``__metrics_path__`` not starting with ``/``, scrape interval/timeout that are not
durations or a timeout longer than the interval). Confirming a registration in ``/api/v1/targets``
looks at the address only, so these checks are what stands between a typo and a silent scrape failure.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from airflow_wecube.prometheus.errors import PrometheusConfigError
from airflow_wecube.prometheus.times import PROMETHEUS_DURATION, duration_ms
from airflow_wecube.util.files import atomic_write_text, lock_dir_beside, locked

JOB_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")
TARGET_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>\d{1,5}))?$")
LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# reserved labels that file_sd may set on purpose
ALLOWED_RESERVED = {"__metrics_path__", "__scheme__", "__scrape_interval__", "__scrape_timeout__"}
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")


def _check_address(target: str, port: str | None) -> None:
    """What the address pattern lets through but Prometheus would not scrape as meant: a host that
    starts with ``-`` (or an empty or ``-``-edged name part), an IPv6 literal that is not one, a
    port with a leading zero (``080``: decimal 80 or octal 64?)."""
    host = target[: -len(port) - 1] if port is not None else target
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise PrometheusConfigError(
                f"invalid target {target!r}: {host} is not an IPv6 address in brackets"
            ) from None
    elif not all(_HOST_LABEL.fullmatch(part) for part in host.removesuffix(".").split(".")):  # "host.": a FQDN
        raise PrometheusConfigError(
            f"invalid target {target!r}: host {host!r} must be dot-separated names of letters, digits, '_' or '-' "
            "that neither start nor end with '-' (nor are empty)"
        )
    if port is not None and (port.startswith("0") or not 0 < int(port) < 65536):
        raise PrometheusConfigError(
            f"invalid target {target!r}: the port must be a decimal number 1-65535 without leading zeros"
        )


def _duration_ms(text: str) -> int | None:
    """Milliseconds of a positive duration in Prometheus's own grammar (``15s``, ``1m30s``), else None.

    Stricter than :func:`duration_ms` alone: Prometheus reads these labels itself, so seconds
    without a unit or decimals (``1.5m``) would be dropped by it.
    """
    if not text or not PROMETHEUS_DURATION.fullmatch(text):
        return None
    try:
        return duration_ms(text)
    except ValueError:  # zero, or too long
        return None


def _check_reserved(labels: Mapping[str, str]) -> None:
    """Values Prometheus would refuse or misuse for the reserved labels (it drops such a target, or
    scrapes something else, and nothing says why)."""
    scheme = labels.get("__scheme__")
    if scheme is not None and scheme not in ("http", "https"):
        raise PrometheusConfigError(f"label __scheme__={scheme!r}: Prometheus scrapes only 'http' or 'https'")
    path = labels.get("__metrics_path__")
    if path is not None and (not path.startswith("/") or any(ch.isspace() or ord(ch) < 32 for ch in path)):
        raise PrometheusConfigError(
            f"label __metrics_path__={path!r}: it must be a URL path starting with '/' "
            "(such as /metrics), without spaces"
        )
    times = {}
    for name in ("__scrape_interval__", "__scrape_timeout__"):
        if name in labels:
            ms = _duration_ms(labels[name])
            if not ms:
                raise PrometheusConfigError(
                    f"label {name}={labels[name]!r}: not a positive Prometheus duration (such as 15s, 1m30s, 500ms)"
                )
            times[name] = ms
    if len(times) == 2 and times["__scrape_timeout__"] > times["__scrape_interval__"]:
        raise PrometheusConfigError(
            f"label __scrape_timeout__={labels['__scrape_timeout__']!r} is longer than "
            f"__scrape_interval__={labels['__scrape_interval__']!r}: Prometheus drops such a target"
        )


def validate_job(job: str) -> str:
    """A job name that is also a safe file name (letters, digits, ``_ . -``)."""
    if not isinstance(job, str) or not JOB_RE.fullmatch(job):
        raise PrometheusConfigError(f"invalid job name {job!r}: use letters, digits, '_', '.', '-' (no path)")
    return job


def validate_targets(targets: str | Iterable[str]) -> list[str]:
    """``host:port`` strings (one string or several), de-duplicated in order."""
    if isinstance(targets, str):
        targets = [targets]
    try:
        items = list(targets)
    except TypeError:
        raise PrometheusConfigError(f"targets must be 'host:port' strings, got {targets!r}") from None
    if not items:
        raise PrometheusConfigError("no targets given")
    out: list[str] = []
    for target in items:
        match = TARGET_RE.fullmatch(target.strip()) if isinstance(target, str) else None
        if not match:
            raise PrometheusConfigError(
                f"invalid target {target!r}: use 'host:port' (no scheme, path or spaces; set __scheme__ / "
                "__metrics_path__ labels for those)"
            )
        if match.group("port") is not None and not 0 < int(match.group("port")) < 65536:
            raise PrometheusConfigError(f"invalid target {target!r}: port out of range")
        _check_address(target.strip(), match.group("port"))
        if target.strip() not in out:
            out.append(target.strip())
    return out


def validate_labels(job: str, labels: Mapping[str, str] | None) -> dict[str, str]:
    """The group labels: the caller's labels plus ``job``; names must be valid Prometheus label names."""
    result: dict[str, str] = {}
    if labels is not None and not isinstance(labels, Mapping):
        raise PrometheusConfigError(f"labels must be a mapping of label name to string, got {labels!r}")
    for name, value in (labels or {}).items():
        if not isinstance(name, str) or not LABEL_RE.fullmatch(name):
            raise PrometheusConfigError(f"invalid label name {name!r}")
        if name.startswith("__") and name not in ALLOWED_RESERVED:
            raise PrometheusConfigError(f"label {name!r} is reserved; allowed: {sorted(ALLOWED_RESERVED)}")
        if not isinstance(value, str):
            raise PrometheusConfigError(f"label {name!r} must be a string, got {value!r}")
        result[name] = value
    _check_reserved(result)
    if result.get("job", job) != job:
        raise PrometheusConfigError(f"label job={result['job']!r} contradicts the job {job!r}")
    result["job"] = job
    return dict(sorted(result.items()))


def target_file(file_sd_dir: str | Path, job: str) -> Path:
    """``<file_sd_dir>/<job>.json``; the folder must exist."""
    folder = Path(file_sd_dir)
    if not folder.is_dir():
        raise PrometheusConfigError(f"file_sd folder {str(folder)!r} does not exist")
    return folder / f"{validate_job(job)}.json"


def read_groups(path: Path) -> list[dict]:
    """The target groups in ``path`` (``[]`` when it does not exist); refuses a malformed file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PrometheusConfigError(
            f"{path} is not valid JSON ({exc}); fix or remove it, nothing was changed"
        ) from None
    if not isinstance(data, list) or not all(
        isinstance(g, dict) and isinstance(g.get("targets", []), list) and isinstance(g.get("labels", {}), dict)
        for g in data
    ):
        raise PrometheusConfigError(f"{path} is not a file_sd target group list; nothing was changed")
    return [{"targets": list(g.get("targets", [])), "labels": dict(g.get("labels", {}))} for g in data]


def _write(path: Path, groups: list[dict]) -> None:
    groups = [g for g in groups if g["targets"]]
    if groups:
        atomic_write_text(path, json.dumps(groups, indent=2, sort_keys=True) + "\n")
    else:
        path.unlink(missing_ok=True)


def register(
    file_sd_dir: str | Path,
    job: str,
    targets: str | Iterable[str],
    labels: Mapping[str, str] | None = None,
    *,
    lock_timeout: float = 60.0,
    lock_dir: str | Path | None = None,
) -> list[str]:
    """Add ``targets`` to ``job`` with ``labels``; returns the targets that were added or relabelled.

    A target already in the job with other labels moves to the group with these labels.
    """
    targets = validate_targets(targets)
    wanted = validate_labels(job, labels)
    path = target_file(file_sd_dir, job)
    with locked(path, lock_timeout, PrometheusConfigError, lock_dir=lock_dir_beside(file_sd_dir, lock_dir)):
        groups = read_groups(path)
        changed = []
        for target in targets:
            if any(target in g["targets"] and g["labels"] == wanted for g in groups):
                continue
            for g in groups:
                if target in g["targets"]:
                    g["targets"].remove(target)
            group = next((g for g in groups if g["labels"] == wanted), None)
            if group is None:
                group = {"targets": [], "labels": wanted}
                groups.append(group)
            group["targets"].append(target)
            changed.append(target)
        if changed:
            for g in groups:
                g["targets"].sort()
            _write(path, groups)
        return changed


def deregister(
    file_sd_dir: str | Path,
    job: str,
    targets: str | Iterable[str],
    *,
    lock_timeout: float = 60.0,
    lock_dir: str | Path | None = None,
) -> list[str]:
    """Remove ``targets`` from ``job``; returns the ones that were there. The file goes when empty."""
    targets = validate_targets(targets)
    path = target_file(file_sd_dir, job)
    with locked(path, lock_timeout, PrometheusConfigError, lock_dir=lock_dir_beside(file_sd_dir, lock_dir)):
        groups = read_groups(path)
        removed = []
        for target in targets:
            for g in groups:
                if target in g["targets"]:
                    g["targets"].remove(target)
                    if target not in removed:
                        removed.append(target)
        if removed:
            _write(path, groups)
        return removed


def registered(file_sd_dir: str | Path, job: str) -> dict[str, dict[str, str]]:
    """``{target: labels}`` currently in the job's file."""
    path = target_file(file_sd_dir, job)
    return {t: g["labels"] for g in read_groups(path) for t in g["targets"]}
