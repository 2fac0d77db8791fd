"""Atomic file writes, shared by the plugin registry, Prometheus target/rule files and the capacity store.

Pure (no Airflow import): readers on other schedulers, workers or Prometheus itself see the old
file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and a rename.

    The temporary name starts with ``.`` and ends in ``.tmp``, so globs such as Prometheus's
    ``*.json`` / ``*.yml`` or the registry's ``*.json`` never pick it up. ``mode`` defaults to
    world-readable: Prometheus often runs as another user.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)
