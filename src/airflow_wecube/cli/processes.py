"""``wecube processes ...``: validate, import, list, show and remove WeCube processes (docs/processes.md)."""

from __future__ import annotations

import argparse
import json
import sys

from airflow_wecube.processes.loader import FORMATS, read_process_file
from airflow_wecube.processes.model import Process
from airflow_wecube.processes.references import resolve_sub_processes
from airflow_wecube.processes.routines import parse_check
from airflow_wecube.processes.store import default_process_store
from airflow_wecube.processes.validate import validate
from airflow_wecube.registry import default_registry


def _checked(args) -> list[Process]:
    """The file's processes, each validated against the plugin registry (all or an error), their
    sub-process references resolved against the same file and the store."""
    registry = default_registry(args.registry)
    checked = [
        validate(p, registry, routine_check=parse_check(p.root_entity))
        for p in read_process_file(args.path, args.format)
    ]
    return resolve_sub_processes(checked, default_process_store(getattr(args, "processes", None)))


def _warn(processes: list[Process]) -> None:
    for p in processes:
        for msg in p.warnings:
            print(f"warning: {p.key} {p.version}: {msg}", file=sys.stderr)


def _line(p: Process) -> str:
    return f"{p.key} {p.version} {p.name!r}: {len(p.nodes)} nodes, {len(p.edges)} flows, root {p.root_entity}"


def cmd_validate(args) -> int:
    processes = _checked(args)
    _warn(processes)
    for p in processes:
        print(f"ok: {_line(p)}")
    return 0


def cmd_import(args) -> int:
    processes = _checked(args)
    _warn(processes)
    store = default_process_store(args.processes)
    for p, path in zip(processes, store.save(processes, replace=args.replace), strict=True):
        print(f"imported {_line(p)} -> {path} (DAG {p.dag_id})")
    return 0


def cmd_list(args) -> int:
    store = default_process_store(args.processes)
    stored = store.processes()
    rows = [
        store.get(key, v).summary()
        for key, versions in stored.items()
        for v in (versions if args.all_versions else versions[-1:])
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no processes stored in {store.root}")
        return 0
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        print(f"{r['key']:<{width}}  {r['version']:<8} {r['nodes']:>3} nodes  {r['source_format']:<10} {r['name']}")
    return 0


def cmd_show(args) -> int:
    key, _, version = args.process.partition("@")
    p = default_process_store(args.processes).get(key, args.version or version or None)
    if args.json:
        print(p.model_dump_json(indent=2, exclude={"diagram"}))
        return 0
    lines = [
        f"{p.key} {p.version}  {p.name}",
        f"  root entity {p.root_entity}  format {p.source_format}  DAG {p.dag_id}",
        "  nodes:",
    ]
    for n in p.nodes:
        service = n.service_name + (f"  @{n.service_version}" if n.service_version else "")
        lines.append(f"    {n.id:<28} {n.type:<13} {n.name}" + (f"  [{service}]" if service else ""))
        if n.routine_expression:
            lines.append(f"      entities: {n.routine_expression}")
        for b in n.params:
            source = repr(b.bind_value) if b.bind_type == "constant" else f"{b.bind_node_id}.{b.bind_param_name}"
            lines.append(f"      {b.param_name} <- {b.bind_type} {source}")
        if n.note:
            lines.append(f"      note: {n.note}")
    lines.append("  flows:")
    for e in p.edges:
        label = " ".join(x for x in (repr(e.name) if e.name else "", e.condition, "default" if e.default else "") if x)
        lines.append(f"    {e.source} -> {e.target}" + (f"  {label}" if label else ""))
    print("\n".join(lines))
    return 0


def cmd_preview(args) -> int:
    """Per node, the entities a run from root ``--root`` acts on (what ``wecube_bind`` records);
    without ``--root``, the candidates of the root entity."""
    from airflow_wecube.cli.entities import _api
    from airflow_wecube.datamodel.evaluate import Evaluator
    from airflow_wecube.processes.preview import AT_RUN, acts, entity_row, preview
    from airflow_wecube.processes.routines import routine

    key, _, version = args.process.partition("@")
    p = default_process_store(args.processes).get(key, version or None)
    evaluator = Evaluator(_api(args))
    if not args.root:
        rows = [entity_row(r) for r in evaluator.evaluate(routine(p.root_entity))]
        if args.json:
            print(json.dumps({"candidates": rows}, indent=2, ensure_ascii=False))
        else:
            print(f"root entity candidates ({p.root_entity}); pass one with --root:")
            print("\n".join(f"  {r['id']}  {r['displayName']}" for r in rows) or "  (none)")
        return 0
    exclude = json.loads(args.exclude) if args.exclude else None
    bound = preview(p, evaluator, args.root, exclude)
    if args.json:
        print(json.dumps(bound, indent=2, ensure_ascii=False))
        return 0
    for n in p.nodes:
        if not acts(n):
            continue
        rows = bound.get(n.id)
        head = f"{n.id} ({n.type})" + (f" {n.name}" if n.name else "")
        if rows is None:
            print(f"{head}: {AT_RUN}")
            continue
        print(f"{head}: {len(rows)} entit{'y' if len(rows) == 1 else 'ies'}")
        print("\n".join(f"  {r['id']}  {r['displayName']}  [{r['path']}]" for r in rows))
    return 0


def cmd_remove(args) -> int:
    key, _, version = args.process.partition("@")
    removed = default_process_store(args.processes).remove(key, version or None)
    print(f"removed {key} {', '.join(removed)}")
    return 0


def register(groups) -> None:
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--processes",
        help="process folder (default: $WECUBE_PROCESSES_PATH, [wecube] processes_path, DAGs/wecube_processes)",
    )
    reg = argparse.ArgumentParser(add_help=False)
    reg.add_argument(
        "--registry",
        help="plugin registry folder (default: $WECUBE_REGISTRY_PATH, [wecube] registry_path, DAGs/wecube_plugins)",
    )
    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("path", help="WeCube v4 export (.json), WeCube v2/v3 export (.pds) or BPMN 2.0 (.bpmn)")
    source.add_argument(
        "--format", choices=FORMATS, help="the file's format (default: from its name, then its content)"
    )

    p = groups.add_parser("processes", help="import WeCube processes and BPMN drawings")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("validate", parents=[source, reg, store], help="check a process file; writes nothing")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("import", parents=[source, reg, store], help="validate and store a process file")
    s.add_argument("--replace", action="store_true", help="overwrite the same key+version")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("list", parents=[store], help="list stored processes")
    s.add_argument("--json", action="store_true")
    s.add_argument("--all-versions", action="store_true", help="every stored version, not only the highest")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("show", parents=[store], help="show a stored process's nodes, bindings and flows")
    s.add_argument("process", help="KEY or KEY@VERSION")
    s.add_argument("--version")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("preview", parents=[store], help="the entities each node acts on, from a root entity")
    s.add_argument("process", help="KEY or KEY@VERSION")
    s.add_argument("--root", help="the root entity's id (without: list the candidates)")
    s.add_argument("--exclude", help='JSON {"<node id>": ["<entity id>", ...]}: deselected entities')
    s.add_argument("--url", help="entity API base URL (default: $WECUBE_ENTITY_URL, else the Airflow connections)")
    s.add_argument("--token", help="bearer token of --url (default: $WECUBE_ENTITY_TOKEN)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_preview)

    s = sub.add_parser("remove", parents=[store], help="remove a process (all versions) or KEY@VERSION")
    s.add_argument("process")
    s.set_defaults(func=cmd_remove)
