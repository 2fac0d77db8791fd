"""The normalised process model every reader produces and the store keeps (one JSON file per version).

WeCube v4's node types are the vocabulary: a v2 ``.pds`` export or a BPMN 2.0 drawing is mapped
onto them (docs/processes.md has the table). Pure pydantic: no Airflow import, so the DAG factory
can read stored processes cheaply at parse time.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_wecube.registry.models import path_segment_problem

NodeType = Literal[
    "start",
    "end",
    "abnormal",
    "automatic",
    "data",
    "human",
    "fork",
    "merge",
    "decision",
    "decisionMerge",
    "timeInterval",
    "date",
    "subProc",
]
#: node types that act on entities (a routine expression picks them)
TASK_TYPES = frozenset({"automatic", "data", "human", "subProc"})
SourceFormat = Literal["wecube-v4", "wecube-pds", "bpmn"]
#: the start node's system values a context binding may name (WeCube's list)
SYSTEM_VALUES = (
    "procInstId",
    "procDefKey",
    "procDefName",
    "rootEntityId",
    "rootEntityName",
    "procStartTime",
    "procExecutor",
)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParamBinding(_Model):
    """Where one input of a node's service comes from: a constant, or a value recorded by a node
    that ran before (its input or output ``bind_param_name``; the start node's system values)."""

    param_name: str
    bind_type: Literal["constant", "context"] = "constant"
    bind_value: str = ""
    bind_node_id: str = ""
    bind_param_type: Literal["INPUT", "OUTPUT"] = "INPUT"
    bind_param_name: str = ""
    required: bool = False


class TimeConfig(_Model):
    """A timer node's wait: ``duration`` in ``unit`` (timeInterval) or an ISO-8601 ``date`` (date)."""

    duration: float | None = None
    unit: Literal["sec", "min", "hour", "day"] = "sec"
    date: str = ""

    @property
    def seconds(self) -> float | None:
        if self.duration is None:
            return None
        return self.duration * {"sec": 1, "min": 60, "hour": 3600, "day": 86400}[self.unit]


class SubProcessRef(_Model):
    """The process a ``subProc`` node runs once per bound entity: its key (or name) and version."""

    key: str = ""
    name: str = ""
    version: str = ""


class Node(_Model):
    """One node of a process, in WeCube v4's terms."""

    id: str = Field(min_length=1)
    name: str = ""
    type: NodeType
    service_name: str = ""
    #: the registered package version that serves ``service_name``, set by validation (so a run
    #: calls the version the import was checked against, docs/processes.md)
    service_version: str = ""
    routine_expression: str = ""
    #: 0 bind at start, 1 reuse node ``bind_node_id``'s entities, 2 evaluate when the node runs
    dynamic_bind: Literal[0, 1, 2] = 0
    bind_node_id: str = ""
    risk_check: bool = False
    timeout_minutes: float | None = None
    time_config: TimeConfig | None = None
    allow_continue: bool = False
    sub_process: SubProcessRef | None = None
    #: inclusive gateway (BPMN): every outgoing flow whose condition holds is taken, not only one
    inclusive: bool = False
    params: tuple[ParamBinding, ...] = ()
    #: what the source called it (``bpmn2:subProcess SSTN``, ``bpmn:userTask``, ``automatic``)
    source_type: str = ""
    #: why the importer changed the node's meaning, shown by ``wecube processes show``
    note: str = ""


class Edge(_Model):
    """A flow between two nodes. Leaving a decision, ``name`` is the option that chooses it
    (WeCube) or ``condition`` a safe BPMN expression (docs/processes.md); ``default`` is BPMN's
    default flow, taken when nothing else is."""

    id: str = Field(min_length=1)
    name: str = ""
    source: str
    target: str
    condition: str = ""
    default: bool = False


class Position(_Model):
    x: float
    y: float
    width: float | None = None
    height: float | None = None


class Diagram(_Model):
    """What drawing the process later needs: the BPMN XML with its DI when the source had one,
    else the canvas positions of the WeCube designer."""

    bpmn_xml: str = ""
    positions: dict[str, Position] = Field(default_factory=dict)


class Process(_Model):
    """One version of one process definition."""

    key: str = Field(min_length=1)
    name: str = ""
    version: str = Field(min_length=1)
    root_entity: str = ""
    tags: tuple[str, ...] = ()
    scene: str = ""
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    diagram: Diagram = Diagram()
    source_format: SourceFormat
    source_file: str = ""
    #: problems WeCube accepts and so do we (a task without service...), shown at import
    warnings: tuple[str, ...] = ()

    @field_validator("key", "version")
    @classmethod
    def _safe_name(cls, v: str, info) -> str:
        problem = path_segment_problem(v)
        if problem is None and not _KEY_CHARS.fullmatch(v):
            problem = f"{v!r} has characters other than letters, digits, '_', '-' and '.'"
        if problem:
            raise ValueError(f"process {info.field_name} {problem}; it names the stored file and the DAG id")
        return v

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    @property
    def dag_id(self) -> str:
        return f"wecube_proc_{self.key}"

    def summary(self) -> dict:
        """The row ``wecube processes list --json`` prints."""
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[n.type] = counts.get(n.type, 0) + 1
        return {
            "key": self.key,
            "name": self.name,
            "version": self.version,
            "root_entity": self.root_entity,
            "source_format": self.source_format,
            "nodes": len(self.nodes),
            "edges": len(self.edges),
            "node_types": counts,
            "dag_id": self.dag_id,
        }
