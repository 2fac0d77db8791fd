"""``wecube approvals ...``: one inbox for the manual steps waiting across all DAGs."""

from __future__ import annotations

import argparse
import json

from airflow_wecube.approvals.inbox import format_table, inbox_rows
from airflow_wecube.util.airflow_api import ENV_PASSWORD, ENV_URL, ENV_USER, AirflowClient


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("approvals", help="manual steps (human-in-the-loop approvals)")
    sub = group.add_subparsers(dest="command", required=True)
    ls = sub.add_parser(
        "list",
        help="pending manual steps across all DAGs, highest priority and oldest first",
        description=f"Lists pending human-in-the-loop requests through Airflow's REST API. "
        f"Connection from the options or ${ENV_URL}, ${ENV_USER}, ${ENV_PASSWORD}.",
    )
    ls.add_argument("--url", help=f"Airflow API server URL (default ${ENV_URL})")
    ls.add_argument("--user", help=f"user to log in as (default ${ENV_USER})")
    ls.add_argument("--password", help=f"password (default ${ENV_PASSWORD}; prefer the variable)")
    ls.add_argument("--dag", default="~", help="only this DAG id")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    with AirflowClient.from_env(args.url, args.user, args.password) as client:
        rows = inbox_rows(client.hitl_details(pending=True, dag_id=args.dag))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 0
