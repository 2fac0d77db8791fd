"""The process store: a folder of normalised processes, one JSON file per version.

Layout ``{root}/{key}/{version}.json``, like the plugin registry (registry/store.py): versions
side by side, the highest unless one is named, atomic writes (temp file + rename) so a DAG file
parsing on another machine never reads half a file; the same key and version twice is refused
unless ``replace``. Reads are cached on file mtimes: the DAG factory reads every process at parse
time.
"""

from __future__ import annotations

import os
from functools import cmp_to_key
from pathlib import Path

from airflow_wecube.processes.errors import ProcessError
from airflow_wecube.processes.model import Process
from airflow_wecube.registry.models import path_segment_problem
from airflow_wecube.registry.store import compare_versions
from airflow_wecube.util.files import atomic_create_bytes, atomic_write_bytes, read_model


class ProcessStore:
    """Stored processes under ``root`` (created on the first import)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ProcessStore({str(self.root)!r})"

    def _file(self, key: str, version: str) -> Path:
        for what, value in (("process key", key), ("process version", version)):
            problem = path_segment_problem(value)
            if problem:
                raise ProcessError(f"refused {what} {problem}", source=str(self.root))
        path = self.root / key / f"{version}.json"
        if path.resolve().parent != (self.root.resolve() / key):
            raise ProcessError(f"refused {key} {version}: {path} resolves outside {self.root}")
        return path

    def processes(self) -> dict[str, list[str]]:
        """Process key -> its stored versions, lowest first."""
        out: dict[str, list[str]] = {}
        if not self.root.is_dir():
            return out
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                versions = [f.name[: -len(".json")] for f in folder.iterdir() if f.name.endswith(".json")]
                if versions:
                    out[folder.name] = sorted(versions, key=cmp_to_key(compare_versions))
        return out

    def get(self, key: str, version: str | None = None) -> Process:
        """A stored process; the highest version unless ``version`` is given."""
        versions = self.processes().get(key, []) if path_segment_problem(key) is None else []
        if not versions:
            raise ProcessError(f"process {key!r} is not stored in {self.root}")
        if version is None:
            version = versions[-1]
        elif version not in versions:
            raise ProcessError(f"process {key} has no version {version!r} (stored: {', '.join(versions)})")
        return read_model(self._file(key, version), Process, ProcessError, "stored process file")

    def latest(self) -> list[Process]:
        """The highest version of every stored process."""
        return [self.get(key) for key in self.processes()]

    def save(self, processes: list[Process], *, replace: bool = False) -> list[Path]:
        """Store validated processes; any key+version already stored refuses them all (unless
        ``replace``), before anything is written."""
        paths = [self._file(p.key, p.version) for p in processes]
        if len(set(paths)) != len(paths):
            raise ProcessError("the file holds the same process key and version twice")
        taken = [f"{p.key} {p.version} ({path})" for p, path in zip(processes, paths, strict=True) if path.exists()]
        if taken and not replace:
            raise ProcessError(f"already stored: {', '.join(taken)}; use --replace to overwrite")
        for process, path in zip(processes, paths, strict=True):
            data = process.model_dump_json(indent=1).encode()
            path.parent.mkdir(parents=True, exist_ok=True)
            if replace:
                atomic_write_bytes(path, data)
                continue
            try:  # exclusive: of two concurrent imports exactly one creates the file
                atomic_create_bytes(path, data)
            except FileExistsError:
                raise ProcessError(f"already stored: {process.key} {process.version} ({path})") from None
        return paths

    def remove(self, key: str, version: str | None = None) -> list[str]:
        """Remove one version, or every version of a process; returns the removed versions."""
        versions = self.processes().get(key, []) if path_segment_problem(key) is None else []
        targets = versions if version is None else [v for v in versions if v == version]
        if not targets:
            raise ProcessError(f"{key}{'@' + version if version else ''} is not stored in {self.root}")
        for v in targets:
            self._file(key, v).unlink()
        folder = self.root / key
        if not any(folder.iterdir()):
            folder.rmdir()
        return targets


def default_process_store(explicit: str | os.PathLike | None = None) -> ProcessStore:
    """The store at ``explicit``, else where :func:`airflow_wecube.config.processes_path` says."""
    from airflow_wecube.config import processes_path

    return ProcessStore(processes_path(explicit))
