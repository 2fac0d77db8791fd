"""WeCube processes: WeCube v4 JSON exports, v2/v3 .pds exports and BPMN 2.0 drawings, validated and stored.

Pure (no Airflow import). docs/processes.md describes the formats, the node table and what is refused.
"""

from __future__ import annotations

from airflow_wecube.processes.errors import Problem, ProcessError
from airflow_wecube.processes.loader import read_bytes, read_process_file
from airflow_wecube.processes.model import Edge, Node, ParamBinding, Process
from airflow_wecube.processes.store import ProcessStore
from airflow_wecube.processes.validate import validate

__all__ = [
    "Edge",
    "Node",
    "ParamBinding",
    "Problem",
    "Process",
    "ProcessError",
    "ProcessStore",
    "read_bytes",
    "read_process_file",
    "validate",
]
