"""The model store: every fit is a version (JSON + PNG); one accepted version is the baseline.

Layout under the root (a local folder, or any pathlib-like object such as Airflow's
``ObjectStoragePath`` for ``s3://...``)::

    <model>/versions/<version>.json   the fit, its gates, its drift report (never deleted)
    <model>/versions/<version>.png    the plot
    <model>/versions/<version>.md     the capacity probe's report (probes only)
    <model>/baseline.json             {"version": ..., "accepted_at": ..., "history": [...]}
    <model>/staging/<key>.csv         data handed from a fetch task to a fit task (deleted once
                                      fitted and saved; a later fetch clears leftovers)

Writes are atomic: on a local disk a temporary file in the same folder is renamed over the target
(``os.replace``); on object storage a single-object PUT is already all-or-nothing. The baseline
moves only to a version whose gates passed.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_wecube.capacity.errors import StoreError
from airflow_wecube.util.files import atomic_write_bytes, locked

_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


# what atomic_write_bytes names its temporary file for <name> (".<name>.<random>.tmp"), and the write probe's
_LEFTOVER = re.compile(r"\.(?:[A-Za-z0-9_][A-Za-z0-9_.\-]*\.(?:json|png|md)|write-probe)\.[A-Za-z0-9_]+\.tmp")


def _check(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _SAFE.fullmatch(value) or ".." in value:
        raise StoreError(f"invalid {kind} {value!r}")
    return value


def _finite(obj: Any) -> Any:
    """JSON has no NaN/Infinity: store them as null (e.g. a p-value of a perfect fit)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ModelStore:
    """Versions and baselines of capacity models.

    :param root: a local path (``str``/``os.PathLike``) or a pathlib-like object (supports ``/``,
        ``open``, ``exists``, ``mkdir``, ``iterdir``), e.g. ``ObjectStoragePath("s3://bucket/capacity")``
    """

    def __init__(self, root: Any):
        if isinstance(root, (str, os.PathLike)) and not hasattr(root, "fs"):
            text = os.fspath(root)
            if "://" in text and not text.startswith("file://"):
                raise StoreError(
                    f"{text}: object storage needs a pathlib-like object (e.g. ObjectStoragePath), not a string"
                )
            root = Path(text.removeprefix("file://")).expanduser()
        self.root = root
        self.local = isinstance(root, Path)

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # -- low level ---------------------------------------------------------------------------
    def _model_dir(self, model: str):
        return self.root / _check("model name", model)

    def _write_bytes(self, path, data: bytes) -> None:
        if self.local:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except Exception:  # object stores have no folders; mkdir may be unsupported
                pass
            with path.open("wb") as fh:
                fh.write(data)

    def _write_json(self, path, obj: Any) -> None:
        obj = _finite(obj)
        self._write_bytes(
            path, json.dumps(obj, indent=2, sort_keys=False, default=str, allow_nan=False).encode() + b"\n"
        )

    def _read_json(self, path) -> Any:
        try:
            with path.open("rb") as fh:
                return json.loads(fh.read())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            raise StoreError(f"{path}: cannot read store file: {e}") from e

    def _lock(self, model: str):
        """One writer per model on a local store (object stores have no locks: a PUT is atomic)."""
        if self.local:
            d = self._model_dir(model)
            d.mkdir(parents=True, exist_ok=True)
            return locked(d / "model", timeout=60, error=StoreError)
        import contextlib

        return contextlib.nullcontext()

    def check_writable(self, model: str) -> None:
        """Refuse a store that cannot take a new version of ``model``, before anything is fetched or fitted.

        Writes and deletes a probe file in the deepest folder that exists of the model's
        ``versions/``, the model's folder and the root (creating only the root when it is missing),
        so a refused store is left as it was.

        :raises StoreError: the root is a file, read-only, or its filesystem refuses the write
        """
        versions = self._model_dir(model) / "versions"
        try:
            if self.local:
                if self.root.exists() and not self.root.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(self.root))
                folder = next((d for d in (versions, versions.parent, self.root) if d.is_dir()), None)
                if folder is None:
                    self.root.mkdir(parents=True, exist_ok=True)
                    folder = self.root
                fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe.", suffix=".tmp")
                os.close(fd)
                os.unlink(probe)
            else:
                probe = versions / f".write-probe.{uuid.uuid4().hex}.tmp"
                with probe.open("wb") as fh:
                    fh.write(b"probe\n")
                probe.unlink()
        except (OSError, ValueError, NotImplementedError) as e:
            where = getattr(e, "filename", None) or versions
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise StoreError(
                f"capacity store {self.root} cannot be written ({reason}: {where}); "
                "nothing was fetched or fitted: fix the store path (--store / [wecube] capacity_store) "
                "or its permissions"
            ) from None

    # -- versions ----------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Names of the models with at least one version."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "versions").exists())

    def versions(self, model: str) -> list[str]:
        """Version ids of ``model``, oldest first."""
        d = self._model_dir(model) / "versions"
        if not d.exists():
            return []
        return sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".json") and not p.name.startswith("."))

    def save_version(self, model: str, record: dict[str, Any], png: bytes | None = None) -> str:
        """Store a new version (the PNG first, so a version JSON never points at a missing plot).

        On a local store this runs under the model's lock, like every other write there, and first
        removes the temporary files (``.<name>.<random>.tmp``) a killed writer left behind: while
        the lock is held no live writer has one.
        """
        versions = self._model_dir(model) / "versions"
        stamp = _now().strftime("%Y%m%dT%H%M%S%fZ")
        version = f"{stamp}-{uuid.uuid4().hex[:6]}"
        record = {**record, "model": model, "version": version, "created_at": _now().isoformat()}
        with self._lock(model):
            self._remove_leftovers(model)
            if png is not None:
                self._write_bytes(versions / f"{version}.png", png)
                record["plot"] = f"{version}.png"
            self._write_json(versions / f"{version}.json", record)
        return version

    def _remove_leftovers(self, model: str) -> list[str]:
        """Delete temporary files of interrupted atomic writes in the model's folder and ``versions/``
        (call under the model's lock); returns their names."""
        if not self.local:
            return []  # object storage writes one PUT: nothing is left half-written
        removed = []
        for folder in (self._model_dir(model), self._model_dir(model) / "versions"):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if _LEFTOVER.fullmatch(path.name) and path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(path.name)
        return removed

    def load_version(self, model: str, version: str) -> dict[str, Any]:
        path = self._model_dir(model) / "versions" / f"{_check('version', version)}.json"
        try:
            return self._read_json(path)
        except FileNotFoundError:
            raise StoreError(f"model {model!r} has no version {version!r}") from None

    def update_version(self, model: str, version: str, **fields: Any) -> dict[str, Any]:
        """Add fields (gates, drift, accepted ...) to a stored version; the fit itself never changes."""
        with self._lock(model):
            self._remove_leftovers(model)
            record = self.load_version(model, version)
            record.update(fields)
            self._write_json(self._model_dir(model) / "versions" / f"{version}.json", record)
        return record

    def save_report(self, model: str, version: str, markdown: str) -> Any:
        """Keep a Markdown report beside the version (``versions/<version>.md``, atomic); returns its path."""
        path = self._model_dir(model) / "versions" / f"{_check('version', version)}.md"
        with self._lock(model):
            self._write_bytes(path, markdown.encode())
        return path

    def report_path(self, model: str, version: str):
        """Where the version's Markdown report is (only probes write one)."""
        return self._model_dir(model) / "versions" / f"{_check('version', version)}.md"

    def plot_path(self, model: str, version: str):
        """Where the version's PNG is (it may not exist when the fit was saved without a plot)."""
        return self._model_dir(model) / "versions" / f"{_check('version', version)}.png"

    # -- baseline ----------------------------------------------------------------------------
    def baseline_version(self, model: str) -> str | None:
        path = self._model_dir(model) / "baseline.json"
        try:
            return self._read_json(path)["version"]
        except FileNotFoundError:
            return None

    def baseline(self, model: str) -> dict[str, Any] | None:
        """The accepted version's record, or None when no fit was accepted yet."""
        version = self.baseline_version(model)
        return self.load_version(model, version) if version else None

    def accept(self, model: str, version: str, *, reason: str = "passed every gate") -> None:
        """Make ``version`` the baseline.

        :raises StoreError: when the version's gates did not pass (a bad fit never replaces a good one)
        """
        with self._lock(model):
            self._remove_leftovers(model)
            record = self.load_version(model, version)
            gates = record.get("gates") or {}
            if not gates.get("passed"):
                raise StoreError(
                    f"model {model!r} version {version}: gates did not pass, refusing to make it the baseline"
                )
            path = self._model_dir(model) / "baseline.json"
            try:
                current = self._read_json(path)
            except FileNotFoundError:
                current = {"history": []}
            history = list(current.get("history", []))
            entry = {"version": version, "accepted_at": _now().isoformat(), "reason": reason}
            history.append(entry)
            self._write_json(path, {**entry, "history": history})

    def baseline_history(self, model: str) -> list[dict[str, Any]]:
        """Every version that was ever the baseline, oldest first."""
        try:
            return self._read_json(self._model_dir(model) / "baseline.json").get("history", [])
        except FileNotFoundError:
            return []

    # -- staging (fetch -> fit hand-over) ----------------------------------------------------
    def write_frame(self, model: str, key: str, frame) -> str:
        """Keep a fetched frame (CSV) until the fit reads it; returns the key."""
        buf = io.StringIO()
        frame.to_csv(buf, index_label="time", date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        self._write_bytes(self._model_dir(model) / "staging" / f"{_check('key', key)}.csv", buf.getvalue().encode())
        return key

    def read_frame(self, model: str, key: str):
        import pandas as pd

        path = self._model_dir(model) / "staging" / f"{_check('key', key)}.csv"
        try:
            with path.open("rb") as fh:
                frame = pd.read_csv(fh, index_col="time")
        except FileNotFoundError:
            raise StoreError(f"model {model!r}: no staged data {key!r}") from None
        frame.index = pd.to_datetime(frame.index, utc=True)
        return frame

    def delete_frame(self, model: str, key: str) -> None:
        """Drop a staged frame once it is fitted (a missing one is fine: deleting twice is harmless)."""
        path = self._model_dir(model) / "staging" / f"{_check('key', key)}.csv"
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def staged_keys(self, model: str) -> list[str]:
        """Keys of the frames staged for ``model`` and not yet fitted (or left by a failed run)."""
        d = self._model_dir(model) / "staging"
        if not d.exists():
            return []
        return sorted(
            p.name[:-4]
            for p in d.iterdir()
            if p.name.endswith(".csv") and not p.name.startswith(".") and _SAFE.fullmatch(p.name[:-4])
        )

    def clear_staged(self, model: str, *, keep: Callable[[str], bool] | None = None) -> list[str]:
        """Delete the frames staged for ``model``, except those whose key ``keep(key)`` is true;
        returns the deleted keys.

        A fetch calls this so that data a failed or killed run left behind does not pile up.
        """
        stale = [key for key in self.staged_keys(model) if not (keep and keep(key))]
        for key in stale:
            self.delete_frame(model, key)
        return stale
