"""Start the local AWS emulator: ``python -m focus_emulator [--port N] [--provision]``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from focus_emulator.server import Emulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the local AWS emulator on 127.0.0.1 until Ctrl-C.")
    parser.add_argument("--port", type=int, default=None, help="TCP port to listen on (default: a free port)")
    parser.add_argument(
        "--provision", action="store_true", help="create the pipeline's buckets, catalog, workgroup and topic"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with Emulator(port=args.port) as emulator:
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
