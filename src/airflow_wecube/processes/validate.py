"""Check a process before it is stored: what WeCube checks at deploy, and more.

Every problem is collected and raised at once (:class:`ProcessError`), so one import tells the
user everything to fix. The checks: a root entity; unique ids; one start; every node reachable and
leading to an end; no cycle; gateways with the right number of flows and balanced (a fork's
branches meet at one parallel merge, a decision's at a decision-merge or separate ends); decision
links named (or conditioned) and distinct; every service registered; routine expressions where a
node acts on entities; context bindings pointing at nodes that run before.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from airflow_wecube.exceptions import RegistryError
from airflow_wecube.processes.errors import Problem, ProcessError
from airflow_wecube.processes.graph import EXIT, FlowGraph
from airflow_wecube.processes.model import SYSTEM_VALUES, Node, Process
from airflow_wecube.registry.store import Registry, split_service

#: ``check(expression, node) -> problem text or None``: the data model's parse check plugs in here
RoutineCheck = Callable[[str, Node], "str | None"]
_ROOT = re.compile(r"^[A-Za-z0-9_.\-]+:[A-Za-z0-9_]+")
#: (min in, max in, min out, max out) flows per node type; None = any number
_DEGREES = {
    "start": (0, 0, 1, 1),
    "end": (1, None, 0, 0),
    "abnormal": (1, None, 0, 0),
    "fork": (1, 1, 1, None),
    "merge": (1, None, 1, 1),
    "decision": (1, 1, 1, None),
    "decisionMerge": (1, None, 1, 1),
}
_ONE_IN_ONE_OUT = (1, 1, 1, 1)


def _where(process: Process, node: Node | None = None, edge_id: str = "") -> dict:
    if node is not None:
        return {"source": process.source_file, "element": node.id, "name": node.name}
    return {"source": process.source_file, "element": edge_id}


def _structure(process: Process, problems: list[Problem]) -> tuple[FlowGraph, list[str] | None]:
    """Ids, flows, degrees, start, reachability, cycles; the graph and its order when acyclic."""
    by_id: dict[str, Node] = {}
    for n in process.nodes:
        if n.id in by_id:
            problems.append(Problem("two nodes share this id", **_where(process, n)))
        by_id[n.id] = n
    seen_edges: set[str] = set()
    for e in process.edges:
        if e.id in seen_edges:
            problems.append(Problem("two flows share this id", **_where(process, edge_id=e.id)))
        seen_edges.add(e.id)
        for end in (e.source, e.target):
            if end not in by_id:
                problems.append(Problem(f"flow points at {end!r}, which is no node", **_where(process, edge_id=e.id)))
    graph = FlowGraph(list(by_id), [(e.source, e.target) for e in process.edges])
    for n in by_id.values():
        lo_in, hi_in, lo_out, hi_out = _DEGREES.get(n.type, _ONE_IN_ONE_OUT)
        n_in, n_out = len(graph.pred[n.id]), len(graph.succ[n.id])
        if n_in < lo_in or (hi_in is not None and n_in > hi_in):
            hint = "join flows with a merge gateway" if n_in > 1 else "connect it"
            problems.append(Problem(f"{n.type} node has {n_in} incoming flows", hint=hint, **_where(process, n)))
        if n_out < lo_out or (hi_out is not None and n_out > hi_out):
            hint = "split flows with a fork or decision gateway" if n_out > 1 else "connect it"
            problems.append(Problem(f"{n.type} node has {n_out} outgoing flows", hint=hint, **_where(process, n)))
    starts = [n for n in by_id.values() if n.type == "start"]
    if len(starts) != 1:
        problems.append(Problem(f"a process needs exactly one start node, it has {len(starts)}", **_where(process)))
    cycle = graph.cycle()
    if cycle:
        names = " -> ".join(f"{c} {by_id[c].name!r}" if by_id[c].name else c for c in cycle)
        problems.append(
            Problem(
                f"the flow loops: {names}",
                hint="a process runs once, without cycles",
                **_where(process, by_id[cycle[0]]),
            )
        )
    if len(starts) == 1:
        reach = graph.reachable(starts[0].id)
        for n in by_id.values():
            if n.id not in reach:
                problems.append(Problem("node is not reachable from the start", **_where(process, n)))
        if not any(by_id[r].type == "end" for r in reach):
            problems.append(Problem("no end node is reachable from the start", **_where(process, starts[0])))
    ends = [n.id for n in by_id.values() if n.type in ("end", "abnormal")]
    finishing: set[str] = set()
    for e in ends:
        finishing |= graph.reachable(e, backwards=True)
    for n in by_id.values():
        if n.id not in finishing:
            problems.append(Problem("no path leads from this node to an end", **_where(process, n)))
    if cycle:
        return graph, None
    order, _ = graph.topological()
    return graph, order


def _balance(process: Process, graph: FlowGraph, order: list[str], problems: list[Problem]) -> None:
    """A fork's branches meet at one merge; a decision's at a decision-merge (or at ends)."""
    types = {n.id: n.type for n in process.nodes}
    # branches that fail (abnormal end) never reach a join: the joins are found on the paths that
    # complete, so "reject -> abnormal end" beside "approve -> ... -> decision-merge" is balanced
    completing: set[str] = set()
    for n in process.nodes:
        if n.type == "end":
            completing |= graph.reachable(n.id, backwards=True)
    kept = [n for n in order if n in completing]
    graph = FlowGraph(kept, [(s, t) for s in kept for t in graph.succ[s] if t in completing])
    ipdom = graph.immediate_post_dominators(kept)
    joined: dict[str, list[str]] = {}
    for n in process.nodes:
        if n.id not in completing or n.type not in ("fork", "decision") or len(graph.succ[n.id]) < 2:
            continue
        meet = ipdom[n.id]
        joined.setdefault(meet, []).append(n.id)
        meet_type = types.get(meet, "end")
        meet_text = "separate ends" if meet == EXIT else f"{meet} ({meet_type})"
        if n.type == "fork" and meet_type != "merge":
            problems.append(
                Problem(
                    f"the fork's branches do not meet at one merge (they meet at {meet_text})",
                    hint="end every branch of a fork at the same merge gateway",
                    **_where(process, n),
                )
            )
        if n.type == "decision" and meet_type == "merge":
            problems.append(
                Problem(
                    f"a parallel merge {meet} joins the branches of this decision: it would wait forever",
                    hint="join a decision's branches with a decision-merge (exclusive gateway)",
                    **_where(process, n),
                )
            )
    for n in process.nodes:
        if n.id in completing and n.type in ("merge", "decisionMerge") and len(graph.pred[n.id]) > 1:
            owners = [types[o] for o in joined.get(n.id, [])]
            wanted = "fork" if n.type == "merge" else "decision"
            if wanted not in owners:
                problems.append(
                    Problem(
                        f"this {n.type} joins no {wanted}'s branches as a whole",
                        hint=f"pair each {n.type} with the {wanted} whose branches it joins",
                        **_where(process, n),
                    )
                )


def _decision_links(process: Process, problems: list[Problem]) -> None:
    types = {n.id: n for n in process.nodes}
    for e in process.edges:
        source = types.get(e.source)
        if (e.condition or e.default) and source is not None and source.type != "decision":
            problems.append(
                Problem(
                    f"flow {e.id} has a condition or is a default flow, but leaves the {source.type} node",
                    hint="put conditions on the flows leaving an exclusive or inclusive gateway",
                    **_where(process, source),
                )
            )
    for node in process.nodes:
        if node.type != "decision":
            continue
        out = [e for e in process.edges if e.source == node.id]
        if len(out) < 2:
            continue
        names: dict[str, str] = {}
        for e in out:
            if not (e.name or e.condition or e.default):
                problems.append(
                    Problem(
                        f"flow {e.id} leaving the decision has no name (the option that picks it) and no condition",
                        hint="name every link leaving a decision",
                        **_where(process, types[node.id]),
                    )
                )
            if e.name and not e.condition:
                if e.name in names:
                    problems.append(
                        Problem(
                            f"flows {names[e.name]} and {e.id} leaving the decision are both named {e.name!r}",
                            hint="name each option once",
                            **_where(process, node),
                        )
                    )
                names[e.name] = e.id
        if sum(e.default for e in out) > 1:
            problems.append(Problem("more than one default flow", **_where(process, node)))


def _bindings(process: Process, graph: FlowGraph, order: list[str] | None, check, problems: list[Problem]) -> None:
    by_id = {n.id: n for n in process.nodes}
    before = graph.ancestors(order) if order is not None else None
    start = next((n.id for n in process.nodes if n.type == "start"), "")
    for n in process.nodes:
        acts = n.type in ("automatic", "data", "subProc") or (n.type == "human" and n.service_name)
        if acts and n.dynamic_bind == 1:
            if not n.bind_node_id or n.bind_node_id not in by_id:
                problems.append(
                    Problem(
                        f"dynamicBind 1 reuses node {n.bind_node_id!r}'s entities, which is no node",
                        **_where(process, n),
                    )
                )
            elif before is not None and n.bind_node_id not in before[n.id]:
                problems.append(
                    Problem(f"dynamicBind 1: node {n.bind_node_id} does not run before", **_where(process, n))
                )
        elif acts and not n.routine_expression:
            problems.append(
                Problem(
                    f"{n.type} node has no routine expression: it would act on no entity",
                    hint="set the node's data binding (routineExpression)",
                    **_where(process, n),
                )
            )
        elif acts and check is not None:
            message = check(n.routine_expression, n)
            if message:
                problems.append(Problem(f"routine expression: {message}", **_where(process, n)))
        if n.type == "subProc" and not (n.sub_process and (n.sub_process.key or n.sub_process.name)):
            problems.append(Problem("sub-process node names no process to run", **_where(process, n)))
        if n.type == "timeInterval" and not (n.time_config and (n.time_config.seconds or 0) > 0):
            problems.append(Problem("timer node has no duration above 0", **_where(process, n)))
        if n.type == "date" and not (n.time_config and n.time_config.date):
            problems.append(Problem("date node has no date", **_where(process, n)))
        for p in n.params:
            if not p.param_name:
                problems.append(Problem("a parameter binding has no parameter name", **_where(process, n)))
            if p.bind_type != "context":
                continue
            what = f"input {p.param_name} is bound to {p.bind_node_id or '(no node)'}"
            if p.bind_node_id not in by_id:
                problems.append(Problem(f"{what}, which is no node", **_where(process, n)))
            elif before is not None and p.bind_node_id not in before[n.id]:
                problems.append(
                    Problem(
                        f"{what}, which does not run before this node",
                        hint="bind to an earlier node",
                        **_where(process, n),
                    )
                )
            elif p.bind_node_id == start and p.bind_param_name not in SYSTEM_VALUES:
                problems.append(
                    Problem(
                        f"{what}'s {p.bind_param_name!r}; the start node offers {', '.join(SYSTEM_VALUES)}",
                        **_where(process, n),
                    )
                )


def resolve_services(process: Process, registry: Registry) -> tuple[dict[str, str], list[Problem]]:
    """Service name -> highest registered package version that declares it; one problem naming
    every missing service and the ``wecube plugins register`` that would add it."""
    found: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    packages = registry.packages()
    bad: list[Problem] = []
    for n in process.nodes:
        if not n.service_name or n.service_name in found:
            continue
        try:
            pkg, pinned, plain = split_service(n.service_name)
        except RegistryError as e:
            bad.append(Problem(str(e), **_where(process, n)))
            continue
        versions = [pinned] if pinned else list(reversed(packages.get(pkg, [])))
        for v in versions:
            try:
                if plain in registry.get(pkg, v).services():
                    found[n.service_name] = v
                    break
            except RegistryError:
                continue
        else:
            missing.setdefault(n.service_name, []).append(n.id)
    if missing:
        by_id = {n.id: n for n in process.nodes}
        commands: dict[str, str] = {}
        for service, node_ids in sorted(missing.items()):
            pkg = service.split("/", 1)[0].split("@", 1)[0]
            have = packages.get(pkg)
            why = f"registered versions {', '.join(have)} lack it" if have else f"package {pkg} is not registered"
            more = f" (also nodes {', '.join(node_ids[1:])})" if node_ids[1:] else ""
            bad.append(
                Problem(f"service {service} is not registered: {why}{more}", **_where(process, by_id[node_ids[0]]))
            )
            commands[pkg] = (
                f"wecube plugins register <{pkg} register.xml> --version <its version> --registry {registry.root}"
            )
        bad.append(
            Problem(
                f"{len(missing)} services are not registered; register the plugin packages that declare them: "
                + " ; ".join(commands.values()),
                source=process.source_file,
            )
        )
    return found, bad


def validate(process: Process, registry: Registry | None, *, routine_check: RoutineCheck | None = None) -> Process:
    """The process with each node's ``service_version`` filled in, or :class:`ProcessError` with
    every problem. ``registry=None`` skips the service check (a structure-only check);
    ``routine_check`` is the data model's parse check of routine expressions (docs/processes.md)."""
    problems: list[Problem] = []
    if not process.root_entity.strip():
        problems.append(Problem("the process has no root entity", hint="choose the root entity", **_where(process)))
    elif not _ROOT.match(process.root_entity):
        problems.append(
            Problem(
                f"root entity {process.root_entity!r} is not package:entity",
                hint="e.g. wecmdb:app_system",
                **_where(process),
            )
        )
    graph, order = _structure(process, problems)
    if order is not None and not problems:
        _balance(process, graph, order, problems)
    _decision_links(process, problems)
    _bindings(process, graph, order, routine_check, problems)
    found: dict[str, str] = {}
    if registry is not None:
        found, more = resolve_services(process, registry)
        problems += more
    if problems:
        raise ProcessError(problems)
    nodes = tuple(n.model_copy(update={"service_version": found.get(n.service_name, "")}) for n in process.nodes)
    warnings = [w for w in _warnings(process, found) if w not in process.warnings]
    return process.model_copy(update={"nodes": nodes, "warnings": (*process.warnings, *warnings)})


def _warnings(process: Process, found: dict[str, str]) -> list[str]:
    """What a run will do that the user may not expect: several versions of one package, inputs
    read from a manual step (it records each entity's ``guid`` only, docs/processes.md)."""
    out = []
    versions: dict[str, set[str]] = {}
    for service, version in found.items():
        versions.setdefault(split_service(service)[0], set()).add(version)
    for pkg, vs in sorted(versions.items()):
        if len(vs) > 1:
            out.append(
                f"package {pkg} is called in versions {', '.join(sorted(vs))}:"
                " each node keeps the one that declares its service"
            )
    by_id = {n.id: n for n in process.nodes}
    for n in process.nodes:
        for p in n.params:
            source = by_id.get(p.bind_node_id)
            if p.bind_type == "context" and source and source.type == "human" and not source.service_name:
                out.append(
                    f"node {n.id} input {p.param_name} reads {p.bind_param_type.lower()} {p.bind_param_name!r}"
                    f" of the manual step {source.id}, which records only each entity's guid"
                )
    return out
