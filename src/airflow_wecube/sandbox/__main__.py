"""``python -m airflow_wecube.sandbox [--host H] [--port P] [--db PATH] [--token TOKEN]``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from airflow_wecube.sandbox import DEFAULT_PORT, DEFAULT_TOKEN, TOKEN_ENV


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_wecube.sandbox",
        description="Run the sandbox WeCube plugin server (cmdb, faults, network, host, deploy, taskman)"
        " for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    parser.add_argument("--db", type=Path, help="SQLite file for the plugins' state (default: a new temp dir)")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN,
        help=f"bearer token required by every plugin endpoint (default: ${TOKEN_ENV}, else {DEFAULT_TOKEN!r})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.token:
        print("error: the token must not be empty", file=sys.stderr)
        return 2
    db = args.db or Path(tempfile.mkdtemp(prefix="wecube-sandbox-")) / "sandbox.db"

    import uvicorn

    from airflow_wecube.sandbox.app import create_app

    app = create_app(db, args.token)
    print(f"WeCube sandbox on http://{args.host}:{args.port} (db {db})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
