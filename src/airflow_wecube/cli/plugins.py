"""``wecube plugins ...``: validate, register, list, show and remove plugin manifests."""

from __future__ import annotations

import argparse
import json
import sys

from airflow_wecube.config import default_registry
from airflow_wecube.exceptions import PlaceholderVersionError
from airflow_wecube.protocol.platform_inputs import platform_mark
from airflow_wecube.registry import load_manifest

# the version a placeholder manifest is validated with; never registered (register needs --version)
PLACEHOLDER_STAND_IN = "0.0.0"


def _out(args, data, text: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else text)


def _warn(package) -> None:
    for msg in package.warnings():
        print(f"warning: {msg}", file=sys.stderr)


def cmd_validate(args) -> int:
    try:
        package = load_manifest(args.path, version=args.version, package=args.package)
        version = package.version
    except PlaceholderVersionError as e:
        # a plugin's source manifest before its build fills the version in: check the rest
        package = load_manifest(args.path, version=PLACEHOLDER_STAND_IN, package=args.package)
        version = e.placeholder
        where = f"{e.source}" + (f":{e.line}" if e.line else "") + (f" <{e.element}>" if e.element else "")
        print(
            f"note: {where}: package version is the build placeholder {e.placeholder}; "
            "register needs the real one (--version)",
            file=sys.stderr,
        )
    _warn(package)
    n = len(package.services())
    print(f"ok: {package.name} {version}: {len(package.plugins)} plugins, {n} interfaces")
    return 0


def cmd_register(args) -> int:
    package = load_manifest(args.path, version=args.version, package=args.package)
    _warn(package)
    registry = default_registry(args.registry)
    path = registry.register(package, replace=args.replace)
    print(f"registered {package.name} {package.version} ({len(package.services())} interfaces) -> {path}")
    return 0


def cmd_list(args) -> int:
    registry = default_registry(args.registry)
    rows = [s.summary() for s in registry.services(all_versions=args.all_versions)]
    if args.json:
        _out(args, rows, "")
        return 0
    if not rows:
        print(f"no plugins registered in {registry.root}")
        return 0
    width = max(len(r["service"]) for r in rows)
    for r in rows:
        flags = ",".join(f for f, on in (("async", r["async"]), (r["type"].lower(), r["type"] != "EXECUTION")) if on)
        print(
            f"{r['service']:<{width}}  {r['version']:<10} {r.get('protocol', 'wecube'):<6} {r['method']:<6} {r['path']}"
            + (f"  [{flags}]" if flags else "")
        )
    return 0


def cmd_show(args) -> int:
    registry = default_registry(args.registry)
    svc = registry.service(args.service, args.version)
    data = svc.summary() | {"interface": svc.interface.model_dump()}
    data["filled_by_platform"] = {p.name: platform_mark(p) for p in svc.interface.inputs if platform_mark(p)}
    if args.json:
        _out(args, data, "")
        return 0
    i = svc.interface
    lines = [
        f"{svc.name}  ({svc.package} {svc.version})",
        f"  {i.http_method} {i.path}  type={i.type} async={'Y' if i.is_async else 'N'} protocol={i.protocol}",
    ]
    if i.rest:
        auth = i.rest.auth.type + (f" ({i.rest.auth.location} {i.rest.auth.name})" if i.rest.auth.name else "")
        lines.append(f"  server={i.rest.server_url or '(connection host)'} auth={auth} body={i.rest.body}")
    if i.description:
        lines.append(f"  {i.description}")
    for title, params in (("inputs", i.inputs), ("outputs", i.outputs)):
        lines.append(f"  {title}:")
        for p in params:
            marks = [p.datatype] + (["required"] if p.required else []) + (["sensitive"] if p.sensitive else [])
            marks += [f"mapping={p.mapping_type}"] if p.mapping_type else []
            marks += [m] if title == "inputs" and (m := platform_mark(p)) else []
            marks += _rest_marks(p) if p.location or p.json_schema else []
            lines.append(f"    {p.name:<24} {' '.join(marks)}")
    print("\n".join(lines))
    return 0


def _rest_marks(p) -> list[str]:
    """Where a REST parameter goes and what its JSON Schema allows (type, format, enum, default)."""
    s = p.json_schema or {}
    marks = [f"in={p.location}"] if p.location else []
    marks += [f"as={p.wire_name}"] if p.wire_name else []
    marks += (
        [f"type={s['type'] if isinstance(s.get('type'), str) else '|'.join(map(str, s['type']))}"]
        if s.get("type")
        else []
    )
    marks += [f"format={s['format']}"] if s.get("format") else []
    marks += [f"enum={'|'.join(map(str, s['enum']))}"] if isinstance(s.get("enum"), list) else []
    marks += [f"default={json.dumps(s['default'])}"] if "default" in s else []
    return marks


def cmd_remove(args) -> int:
    name, _, version = args.package.partition("@")
    removed = default_registry(args.registry).remove(name, version or None)
    print(f"removed {name} {', '.join(removed)}")
    return 0


def register(groups) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--registry",
        help="registry folder (default: $WECUBE_REGISTRY_PATH, [wecube] registry_path, DAGs/wecube_plugins)",
    )
    p = groups.add_parser("plugins", help="register and inspect plugin manifests")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("validate", parents=[common], help="check a manifest; writes nothing")
    s.add_argument("path", help="register.xml, YAML manifest, package zip, or OpenAPI 3 document (YAML/JSON)")
    s.add_argument(
        "--version",
        help="package version (a {{PLUGIN_VERSION}} placeholder is only noted; OpenAPI: default info.version)",
    )
    s.add_argument("--package", help="OpenAPI documents only: the package name (default: info.title as a slug)")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("register", parents=[common], help="validate and store a manifest")
    s.add_argument("path", help="register.xml, YAML manifest, package zip, or OpenAPI 3 document (YAML/JSON)")
    s.add_argument(
        "--version",
        help="package version (needed when the manifest says {{PLUGIN_VERSION}}; OpenAPI: default info.version)",
    )
    s.add_argument("--package", help="OpenAPI documents only: the package name (default: info.title as a slug)")
    s.add_argument("--replace", action="store_true", help="overwrite the same name+version")
    s.set_defaults(func=cmd_register)

    s = sub.add_parser("list", parents=[common], help="list registered services")
    s.add_argument("--json", action="store_true")
    s.add_argument("--all-versions", action="store_true", help="every registered version, not only the highest")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("show", parents=[common], help="show one service's parameters")
    s.add_argument("service", help="package/plugin/action, optionally package@version/plugin/action")
    s.add_argument("--version")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("remove", parents=[common], help="remove a package (all versions) or PKG@VERSION")
    s.add_argument("package")
    s.set_defaults(func=cmd_remove)
