"""``wecube capacity``: fit a model spec on Prometheus data; list a model's history; accept a version by hand.

Exit codes:

* ``fit``: 0 accepted (or passed), 1 error (bad spec, Prometheus unreachable, bad data, store),
  2 a gate failed, 3 drift found (the baseline is kept);
* ``accept``: 0 the version is (now) the baseline, 1 error (unknown model or version, store),
  2 refused: the version did not pass its gates (the baseline is kept);
* ``list``: 0, or 1 when the model has no versions in the store.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("capacity", help="capacity models: fit, gate, drift, history, accept")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{fit,list,accept}")
    fit = commands.add_parser(
        "fit",
        help="fit SPEC on Prometheus data, gate it, compare with the baseline, accept it when clean",
        description=(
            "Fit a capacity model spec (YAML) over a window of Prometheus data, check its gates, compare "
            "it with the store's accepted baseline, and accept it as the new baseline when it passes "
            "every gate without drift. Exit 0 accepted, 2 a gate failed, 3 drift found (baseline kept), "
            "1 on errors."
        ),
    )
    fit.add_argument("spec", help="spec YAML file")
    fit.add_argument("--start", help="window start: ISO 8601 or Unix seconds (default: end - the spec's window)")
    fit.add_argument("--end", help="window end: ISO 8601 or Unix seconds (default: now)")
    _store_arg(fit)
    fit.add_argument(
        "--prometheus-conn-id",
        default="prometheus_default",
        help="Airflow connection of the Prometheus (default: prometheus_default; "
        "AIRFLOW_CONN_PROMETHEUS_DEFAULT works)",
    )
    fit.add_argument("--json", action="store_true", help="print the report as JSON")
    fit.add_argument("--no-accept", action="store_true", help="report only: never replace the baseline")
    fit.set_defaults(func=_fit)

    lst = commands.add_parser(
        "list",
        help="a model's versions, oldest first, with the accepted baseline marked",
        description="List every stored version of MODEL (fits are never deleted) with its status "
        "(baseline, accepted, drift, gate-failed, not-gated, passed). Exit 1 when it has none.",
    )
    lst.add_argument("model", metavar="SPEC_OR_MODEL", help="model name, or its spec YAML file")
    _store_arg(lst)
    lst.add_argument("--json", action="store_true", help="print the history as JSON")
    lst.set_defaults(func=_list)

    accept = commands.add_parser(
        "accept",
        help="make a stored version the accepted baseline after an intended change",
        description=(
            "Make VERSION of the model the accepted baseline, e.g. after a release that was meant to change "
            "the cost of a transaction (the nightly refit reported drift and kept the old baseline). Only a "
            "version that passed its gates is accepted; otherwise nothing changes and the exit code is 2. "
            "The Prometheus recording rule follows at the next refit run."
        ),
    )
    accept.add_argument("model", metavar="SPEC_OR_MODEL", help="model name, or its spec YAML file")
    accept.add_argument("version", help="version id as `wecube capacity list` shows it, or `latest`")
    _store_arg(accept)
    accept.add_argument("--reason", default="", help="why (kept in the baseline history)")
    accept.add_argument("--json", action="store_true", help="print the outcome as JSON")
    accept.set_defaults(func=_accept)


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="model store folder or URL (default: [wecube] capacity_store)")


def _model_name(value: str) -> str:
    """A model name, or the name inside a spec file when ``value`` is one."""
    from airflow_wecube.capacity.spec import load_spec

    if value.endswith((".yml", ".yaml")) or os.sep in value:
        return load_spec(Path(value)).name
    return value


def _fit(args: argparse.Namespace) -> int:
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.airflow import fetch_frame, open_store
    from airflow_wecube.capacity.spec import load_spec, resolve_window

    spec = load_spec(Path(args.spec))
    start, end = resolve_window(spec, args.start, args.end)
    store = open_store(args.store)
    store.check_writable(spec.name)  # before the fetch and fit, not as a traceback after them
    frame = fetch_frame(spec, start, end, prometheus_conn_id=args.prometheus_conn_id)
    report = pipeline.run(
        spec, frame, store, window={"start": start.isoformat(), "end": end.isoformat()}, accept=not args.no_accept
    )
    if args.json:
        _print_json(report)
    else:
        print(pipeline.format_report(report))
    return pipeline.exit_code(report)


def _list(args: argparse.Namespace) -> int:
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.airflow import open_store

    listing = pipeline.list_versions(open_store(args.store), _model_name(args.model))
    if args.json:
        _print_json(listing)
    else:
        print(pipeline.format_versions(listing))
    return 0


def _accept(args: argparse.Namespace) -> int:
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.airflow import open_store
    from airflow_wecube.capacity.errors import GateRefusal

    model = _model_name(args.model)
    store = open_store(args.store)
    try:
        outcome = pipeline.accept_version(store, model, args.version, reason=args.reason)
    except GateRefusal as e:
        print(f"refused: {e}", file=sys.stderr)
        return pipeline.EXIT_GATE_FAILED
    if args.json:
        _print_json(outcome)
    elif not outcome["changed"]:
        print(f"{model}: version {outcome['version']} is already the accepted baseline")
    else:
        print(
            f"{model}: version {outcome['version']} is now the accepted baseline (was {outcome['previous'] or 'none'})"
        )
        for message in (outcome.get("drift") or {}).get("messages", []):
            print(f"  accepted change: {message}")
    return 0


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
