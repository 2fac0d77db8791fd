"""Steps every reader shares once it has nodes and flows: embedded sub-processes inlined, gateways
named by their degree, and what a task without a service becomes."""

from __future__ import annotations

from airflow_wecube.processes.bpmn_graph import Draft, Graph
from airflow_wecube.processes.errors import Problem
from airflow_wecube.processes.model import Edge, Node

#: what a task node that names no service becomes (docs/processes.md, "Tasks without a service")
SERVICELESS_NOTE = (
    "the export binds no service to this task: it runs as a manual step a person confirms in "
    "Required Actions, never skipped and never guessed"
)


def _problem(source: str, d: Draft, message: str, hint: str = "") -> Problem:
    return Problem(message, source=source, line=d.line, element=d.id, name=d.name, hint=hint)


def flatten_embedded(graph: Graph, source: str) -> list[Problem]:
    """Inline each embedded sub-process: the flow into it goes to what its start leads to, the flow
    out of it leaves from what leads to its end. Innermost first; one way in and one way out."""
    problems: list[Problem] = []
    depth = {d.id: 0 for d in graph.drafts}
    parents = {d.id: d.parent for d in graph.drafts}
    for d in graph.drafts:
        p, n = d.parent, 0
        while p:
            n, p = n + 1, parents.get(p, "")
        depth[d.id] = n
    for sp in sorted(graph.embedded, key=lambda d: -depth[d.id]):
        inner = [d for d in graph.drafts if d.parent == sp.id]
        starts = [d for d in inner if d.kind == "start"]
        ends = [d for d in inner if d.kind == "end"]
        into = [e for e in graph.edges if e.target == sp.id]
        out = [e for e in graph.edges if e.source == sp.id]
        if len(starts) != 1 or len(ends) != 1:
            problems.append(
                _problem(
                    source,
                    sp,
                    f"an embedded sub-process needs one plain start and one plain end ({len(starts)}, {len(ends)})",
                )
            )
            continue
        s_out = [e for e in graph.edges if e.source == starts[0].id]
        e_in = [e for e in graph.edges if e.target == ends[0].id]
        if len(into) != 1 or len(out) != 1 or len(s_out) != 1 or len(e_in) != 1:
            problems.append(
                _problem(
                    source,
                    sp,
                    "an embedded sub-process must have one flow in and one out, and so must its start and end",
                    "put a gateway before or after it",
                )
            )
            continue
        gone = {s_out[0].id, e_in[0].id, into[0].id, out[0].id}
        graph.edges = [e for e in graph.edges if e.id not in gone] + [
            into[0].model_copy(update={"target": s_out[0].target}),
            out[0].model_copy(update={"source": e_in[0].source}),
        ]
        graph.drafts = [d for d in graph.drafts if d.id not in (sp.id, starts[0].id, ends[0].id)]
        for d in graph.drafts:
            if d.parent == sp.id:
                d.parent = sp.parent
    return problems


def gateway_type(d: Draft, n_in: int, n_out: int, source: str) -> tuple[str, Problem | None]:
    """fork/merge for a parallel gateway, decision/decisionMerge for an exclusive or inclusive one."""
    if n_in > 1 and n_out > 1:
        return "", _problem(
            source,
            d,
            f"a gateway that both joins ({n_in} in) and splits ({n_out} out) is refused",
            "draw a joining gateway followed by a splitting one",
        )
    split = n_out > 1 or n_in <= 1
    if d.gateway == "parallel":
        return ("fork" if split else "merge"), None
    return ("decision" if split else "decisionMerge"), None


def degrees(edges: list[Edge]) -> tuple[dict[str, int], dict[str, int]]:
    n_in: dict[str, int] = {}
    n_out: dict[str, int] = {}
    for e in edges:
        n_out[e.source] = n_out.get(e.source, 0) + 1
        n_in[e.target] = n_in.get(e.target, 0) + 1
    return n_in, n_out


def serviceless(node: Node) -> tuple[Node, str | None]:
    """An automatic task without a service becomes a manual step (a warning says so)."""
    if node.type != "automatic" or node.service_name:
        return node, None
    warning = f"node {node.id} {node.name!r} has no service: {SERVICELESS_NOTE}"
    return node.model_copy(update={"type": "human", "note": SERVICELESS_NOTE}), warning
