"""``wecube capacity fit``: fit a model spec on Prometheus data, gate it, compare it, accept it.

Exit codes: 0 accepted (or passed), 1 error (bad spec, Prometheus unreachable, bad data),
2 a gate failed, 3 drift found (the baseline is kept).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("capacity", help="capacity models: fit, gate, drift")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{fit}")
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
    fit.add_argument("--store", help="model store folder or URL (default: [wecube] capacity_store)")
    fit.add_argument("--prometheus-conn-id", default="prometheus_default",
                     help="Airflow connection of the Prometheus (default: prometheus_default; "
                          "AIRFLOW_CONN_PROMETHEUS_DEFAULT works)")
    fit.add_argument("--json", action="store_true", help="print the report as JSON")
    fit.add_argument("--no-accept", action="store_true", help="report only: never replace the baseline")
    fit.set_defaults(func=_fit)


def _fit(args: argparse.Namespace) -> int:
    from airflow_wecube.capacity import pipeline
    from airflow_wecube.capacity.spec import load_spec, resolve_window
    from airflow_wecube.operators.capacity import fetch_frame, open_store

    spec = load_spec(args.spec if args.spec.endswith((".yml", ".yaml")) else __import__("pathlib").Path(args.spec))
    start, end = resolve_window(spec, args.start, args.end)
    store = open_store(args.store)
    frame = fetch_frame(spec, start, end, prometheus_conn_id=args.prometheus_conn_id)
    report = pipeline.run(spec, frame, store, window={"start": start.isoformat(), "end": end.isoformat()},
                          accept=not args.no_accept)
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(pipeline.format_report(report))
    return pipeline.exit_code(report)
