"""The ``wecube`` console script. Each command group lives in its own module with a ``register``."""

from __future__ import annotations

import argparse
import sys

from airflow_wecube.exceptions import WeCubeError


def build_parser() -> argparse.ArgumentParser:
    from airflow_wecube.cli import approvals, capacity, plugins, processes

    parser = argparse.ArgumentParser(prog="wecube", description="WeCube-style DevOps on Airflow.")
    groups = parser.add_subparsers(dest="group", required=True, metavar="{plugins,processes,approvals,capacity}")
    for module in (plugins, processes, approvals, capacity):
        module.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WeCubeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
