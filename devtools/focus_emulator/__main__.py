"""Start the local AWS emulator: ``python -m focus_emulator [--host ADDRESS] [--port N] [--provision]``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from focus_emulator.guard import is_loopback_host
from focus_emulator.server import HOST, Emulator

log = logging.getLogger("focus_emulator")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m focus_emulator", description="Run the local AWS emulator until Ctrl-C or SIGTERM."
    )
    parser.add_argument(
        "--host",
        default=HOST,
        help=f"address to listen on (default: {HOST}); 0.0.0.0 only inside a container network",
    )
    parser.add_argument("--port", type=int, default=None, help="TCP port to listen on (default: a free port)")
    parser.add_argument(
        "--provision", action="store_true", help="create the pipeline's buckets, catalog, workgroup and topic"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not is_loopback_host(args.host):
        # The emulator has no authentication: any host that reaches this address can read and
        # change every bucket, table and queue in it.
        log.warning(
            "Listening on %s, which is not loopback: other hosts on that network can reach the "
            "emulator without credentials. Use this only inside a container network.",
            args.host,
        )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with Emulator(port=args.port, host=args.host) as emulator:
        if args.provision:
            from focus_emulator.provision import provision

            provision(emulator.endpoint_url)
        print(emulator.endpoint_url, flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
