"""``wecube entities ...``: what a data-model expression reaches, and a package's data model.

The entity API is reached at ``--url`` (with ``--token``), else ``$WECUBE_ENTITY_URL`` (with
``$WECUBE_ENTITY_TOKEN``; ``make demo`` exports both in ``.demo/env``), else through the Airflow
connections: ``wecube_<pkg>`` when it exists, else ``wecube_default``.
"""

from __future__ import annotations

import argparse
import json
import os

from airflow_wecube.datamodel.client import EntityApi
from airflow_wecube.datamodel.evaluate import Evaluator, unique

ENV_URL, ENV_TOKEN = "WECUBE_ENTITY_URL", "WECUBE_ENTITY_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("entities", help="CMDB entities: evaluate data-model expressions")
    sub = group.add_subparsers(dest="command", required=True)
    query = sub.add_parser(
        "query",
        help="the entities an expression reaches (id, displayName, path)",
        description='Evaluates a WeCube data-model expression, e.g. "cmdb:subnet~(subnet)cmdb:host" '
        "(docs/data-model.md). With a trailing .attr, that attribute's value per row.",
    )
    query.add_argument("expression", help="e.g. \"cmdb:subnet{name eq 'web'}~(subnet)cmdb:host.ip\"")
    query.add_argument("--root", help="the id of the entity the expression starts from")
    query.add_argument("--json", action="store_true", help="a list of rows: id, displayName, attributes, path")
    query.set_defaults(func=cmd_query)
    model = sub.add_parser("model", help="a package's data model: entities and attributes")
    model.add_argument("package", help="e.g. cmdb")
    model.add_argument("--json", action="store_true", help="the data model as the entity API answers it")
    model.set_defaults(func=cmd_model)
    for p in (query, model):
        p.add_argument("--url", help=f"base URL of the entity API (default ${ENV_URL}, else Airflow connections)")
        p.add_argument("--token", help=f"bearer token (default ${ENV_TOKEN}; prefer the variable)")


def _api(args: argparse.Namespace) -> EntityApi:
    url = args.url or os.environ.get(ENV_URL)
    if url:
        return EntityApi.at(url, args.token or os.environ.get(ENV_TOKEN))
    from airflow_wecube.hooks.entities import entity_api
    from airflow_wecube.hooks.plugin import WeCubePluginHook

    return entity_api(WeCubePluginHook)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def cmd_query(args: argparse.Namespace) -> int:
    evaluator = Evaluator(_api(args))
    expr = evaluator.check(args.expression.strip())
    rows = evaluator.evaluate(expr, root=args.root)
    if expr.attr is None:
        rows = unique(rows)
    if args.json:
        print(json.dumps([r.to_dict(expr.attr) for r in rows], indent=2, ensure_ascii=False))
        return 0
    headers = ["id", "displayName", *([expr.attr] if expr.attr else []), "path"]
    table = [
        [r.id, str(r.data.get("displayName", "")), *([_text(r.data.get(expr.attr))] if expr.attr else []), r.path_text]
        for r in rows
    ]
    print(_table(headers, table))
    print(f"{len(rows)} row(s), {evaluator.api.requests} request(s) to the entity API")
    return 0


def _text(value) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)


def cmd_model(args: argparse.Namespace) -> int:
    model = _api(args).data_model(args.package)
    if args.json:
        print(json.dumps(model.to_api(), indent=2, ensure_ascii=False))
        return 0
    for entity in model.entities.values():
        print(f"{model.package}:{entity.name}" + (f"  ({entity.display_name})" if entity.display_name else ""))
        for a in entity.attributes.values():
            kind = f"ref -> {a.ref_package}:{a.ref_entity}" if a.is_ref else a.data_type
            print(f"  {a.name:<20} {kind}" + (f"  {a.description}" if a.description else ""))
    return 0
