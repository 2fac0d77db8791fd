"""Atomic file writes, file locks and cached model reads, shared by the plugin registry, the process
store, Prometheus target/rule files and the capacity store.

Pure (no Airflow import): readers on other schedulers, workers or Prometheus itself see the old
file or the new one, never half of one; writers that take :func:`locked` lose no one's edit.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
#: path -> (mtime in ns, the model read from it)
_MODELS: dict[Path, tuple[int, BaseModel]] = {}


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and a rename.

    The temporary name starts with ``.`` and ends in ``.tmp``, so globs such as Prometheus's
    ``*.json`` / ``*.yml`` or the registry's ``*.json`` never pick it up. ``mode`` defaults to
    world-readable: Prometheus often runs as another user.
    """
    path = Path(path)
    tmp = _complete_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _complete_temp(path: Path, data: bytes, mode: int) -> str:
    """``data`` written and synced to a hidden temporary file beside ``path`` (same file system)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_create_bytes(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Like :func:`atomic_write_bytes`, but raise :class:`FileExistsError` when ``path`` exists.

    The complete temporary file is hard-linked to ``path``, which fails when the name is taken,
    so of several writers exactly one wins and readers still never see half a file. Where the
    file system has no hard links, a file lock around check-and-rename does the same.
    """
    path = Path(path)
    tmp = _complete_temp(path, data, mode)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some network or FUSE file systems)
            with locked(path):
                if path.exists():
                    raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
                os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def lock_dir_beside(folder: str | os.PathLike, configured: str | os.PathLike | None = None) -> Path:
    """Where the locks of files in ``folder`` live when they must stay out of it (a folder Prometheus
    or a backup reads whole): ``configured`` (``[wecube] lock_dir``) if given, else the hidden
    ``.wecube-locks`` beside ``folder``. Every writer of ``folder`` must agree on it (a shared volume
    in a cluster)."""
    return Path(configured) if configured else Path(folder).parent / ".wecube-locks"


@contextmanager
def locked(
    path: str | os.PathLike,
    timeout: float = 60.0,
    error: type[Exception] = TimeoutError,
    *,
    lock_dir: str | os.PathLike | None = None,
) -> Iterator[None]:
    """Hold ``<path>.lock`` (a file lock, so writers in other processes wait their turn) while editing ``path``.

    With ``lock_dir`` the lock file lives there instead, named after ``path``'s folder and name, so
    the folder of ``path`` holds nothing but its own files.

    The lock file sits beside ``path`` and ends in ``.lock``, outside Prometheus's ``*.json`` /
    ``*.yml`` globs. When the lock is not free within ``timeout`` seconds, ``error`` is raised
    (the caller's own error class) and the body never runs, so nothing was changed.
    """
    if lock_dir is None:
        lock_path = os.fspath(path) + ".lock"
    else:
        folder = os.path.dirname(os.path.abspath(path))
        key = hashlib.sha256(folder.encode()).hexdigest()[:12]
        os.makedirs(lock_dir, exist_ok=True)
        lock_path = os.path.join(lock_dir, f"{key}-{os.path.basename(path)}.lock")
    lock = FileLock(lock_path, timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise error(f"could not lock {path} within {timeout}s; nothing was changed") from None
    try:
        yield
    finally:
        lock.release()


def read_model(path: Path, model: type[M], error: type[Exception], what: str) -> M:
    """``model`` read from the JSON file at ``path``, cached until the file's mtime changes (the
    registry and the process store are read on every DAG parse and plugin call; a write replaces
    the file, so a new mtime). A file that does not validate raises ``error`` naming ``what``."""
    mtime = path.stat().st_mtime_ns
    cached = _MODELS.get(path)
    if cached and cached[0] == mtime and isinstance(cached[1], model):
        return cached[1]
    try:
        value = model.model_validate_json(path.read_bytes())
    except ValidationError as e:
        raise error(f"{what} {path} is corrupt: {e}") from None
    _MODELS[path] = (mtime, value)
    return value
