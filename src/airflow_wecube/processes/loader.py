"""Read a process file of any of the three formats, by its name or, failing that, its content."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_wecube.processes.errors import ProcessError
from airflow_wecube.processes.model import Process

MAX_FILE_BYTES = 8 * 1024 * 1024
FORMATS = ("wecube-v4", "wecube-pds", "bpmn")


def detect_format(data: bytes, name: str) -> str:
    """``.pds`` -> wecube-pds, ``.bpmn``/``.xml`` -> bpmn, ``.json`` -> wecube-v4; else by the first byte."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pds":
        return "wecube-pds"
    if suffix in (".bpmn", ".xml", ".bpmn2"):
        return "bpmn"
    if suffix == ".json":
        return "wecube-v4"
    head = data.lstrip()[:1]
    if head == b"<":
        return "bpmn"
    if head in (b"[", b"{"):
        return "wecube-v4"
    return "wecube-pds"


def read_bytes(data: bytes, name: str, fmt: str | None = None) -> list[Process]:
    """The processes in ``data`` (a v4 export may hold several; the others hold one)."""
    from airflow_wecube.processes.bpmn import read_bpmn
    from airflow_wecube.processes.pds import read_pds
    from airflow_wecube.processes.v4json import read_v4

    if len(data) > MAX_FILE_BYTES:
        raise ProcessError(f"refused: file larger than {MAX_FILE_BYTES} bytes", source=name)
    fmt = fmt or detect_format(data, name)
    if fmt == "wecube-pds":
        return [read_pds(data, name)]
    if fmt == "bpmn":
        return [read_bpmn(data, name)]
    if fmt == "wecube-v4":
        return read_v4(data, name)
    raise ProcessError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", source=name)


def read_process_file(path: str | os.PathLike, fmt: str | None = None) -> list[Process]:
    """The processes of the file at ``path``; :class:`ProcessError` lists every problem."""
    p = Path(path)
    if not p.is_file():
        raise ProcessError("no such file", source=str(p))
    if p.stat().st_size > MAX_FILE_BYTES:
        raise ProcessError(f"refused: file larger than {MAX_FILE_BYTES} bytes", source=str(p))
    return read_bytes(p.read_bytes(), str(p), fmt)
