"""``python -m airflow_wecube.sandbox.account_service --port P --version V [--open-rate N] [--close-rate N]
[--transfer-rate N] [--wave A] [--broken]``; ``--rate N`` (the old form) is ``--open-rate N --close-rate 0.6N``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from airflow_wecube.sandbox.account_service import AccountService, make_server
from airflow_wecube.sandbox.account_service.load import DEFAULT_COSTS, DEFAULT_RATES, MAX_RATE, MAX_WAVE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_wecube.sandbox.account_service",
        description="Demo account service: generates its own load, exposes Prometheus metrics and /health.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--version", required=True, help="the version it reports; one containing 'broken' is unhealthy")
    for op, what in (("open", "accounts opened"), ("close", "accounts closed"), ("transfer", "transfers")):
        parser.add_argument(
            f"--{op}-rate",
            type=float,
            help=f"{what} per second, 0-{MAX_RATE:g} (default: {DEFAULT_RATES[op]:g})",
        )
    parser.add_argument(
        "--rate", type=float, help="the old single rate: --open-rate RATE --close-rate 0.6*RATE (not with those)"
    )
    parser.add_argument(
        "--wave", type=float, default=0.0, help=f"relative amplitude 0-{MAX_WAVE:g} of the slow load wave (default: 0)"
    )
    parser.add_argument("--broken", action="store_true", help="answer /health with 500 whatever the version")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of operations that fail (default: 0)")
    for op in ("open", "close", "transfer"):
        parser.add_argument(
            f"--{op}-cost-ms",
            type=float,
            default=DEFAULT_COSTS[op] * 1000,
            help=f"CPU milliseconds per {op} (default: %(default)g; +slowclose doubles the close cost)",
        )
    parser.add_argument("--watch-pid", type=int, help="exit when this process (the parent that started us) is gone")
    return parser.parse_args(argv)


def rates(args: argparse.Namespace) -> dict[str, float]:
    """The rates per operation from the arguments (``--rate``: the old single rate)."""
    given = {f"{op}_rate": getattr(args, f"{op}_rate") for op in ("open", "close", "transfer")}
    if args.rate is not None:
        if given["open_rate"] is not None or given["close_rate"] is not None:
            raise ValueError("give --rate or --open-rate/--close-rate, not both")
        given["open_rate"], given["close_rate"] = args.rate, 0.6 * args.rate
    return {k: (DEFAULT_RATES[k[: -len("_rate")]] if v is None else v) for k, v in given.items()}


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
            **rates(args),
            wave=args.wave,
            broken=args.broken,
            error_rate=args.error_rate,
            open_cost=args.open_cost_ms / 1000,
            close_cost=args.close_cost_ms / 1000,
            transfer_cost=args.transfer_cost_ms / 1000,
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
        f" load {', '.join(f'{op} {service.applied_rate(op):g}/s' for op in service.rates)}"
        f"{', BROKEN' if service.broken else ''})",
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
