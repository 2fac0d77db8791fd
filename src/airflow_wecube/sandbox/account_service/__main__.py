"""``python -m airflow_wecube.sandbox.account_service --port P --version V [--rate N] [--broken]``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from airflow_wecube.sandbox.account_service import MAX_RATE, AccountService, make_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_wecube.sandbox.account_service",
        description="Demo account service: generates its own load, exposes Prometheus metrics and /health.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--version", required=True, help="the version it reports; one containing 'broken' is unhealthy")
    parser.add_argument(
        "--rate", type=float, default=5.0, help=f"accounts opened per second, 0-{MAX_RATE:g} (default: 5)"
    )
    parser.add_argument("--broken", action="store_true", help="answer /health with 500 whatever the version")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of operations that fail (default: 0)")
    parser.add_argument("--open-cost-ms", type=float, default=1.0, help="CPU milliseconds per open (default: 1)")
    parser.add_argument("--close-cost-ms", type=float, default=2.0, help="CPU milliseconds per close (default: 2)")
    parser.add_argument("--watch-pid", type=int, help="exit when this process (the parent that started us) is gone")
    return parser.parse_args(argv)


def _watch_parent(pid: int, stop: threading.Event, server) -> None:
    # start_new_session keeps our parent; when it dies we are re-parented and getppid() changes
    while not stop.wait(1.0):
        if os.getppid() != pid:
            print(f"account service: parent {pid} is gone, exiting", file=sys.stderr, flush=True)
            server.shutdown()
            return


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        service = AccountService(
            args.version,
            rate=args.rate,
            broken=args.broken,
            error_rate=args.error_rate,
            open_cost=args.open_cost_ms / 1000,
            close_cost=args.close_cost_ms / 1000,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        server = make_server(service, args.host, args.port)
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def terminate(signum, frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    if args.watch_pid:
        threading.Thread(target=_watch_parent, args=(args.watch_pid, stop, server), daemon=True).start()
    service.start()
    print(
        f"account service {args.version} on http://{args.host}:{server.server_address[1]} (pid {os.getpid()},"
        f" rate {service.rate:g}/s{', BROKEN' if service.broken else ''})",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        service.stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
