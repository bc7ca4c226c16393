"""The local AWS: moto's server (on 127.0.0.1 by default) with crawling Glue crawlers and executing Athena."""

from __future__ import annotations

import logging
import shutil
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType

from moto.server import ThreadedMotoServer

from focus_emulator import athena, crawler, guard
from focus_emulator.engine import Engine

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Addresses that bind every interface, and the loopback address that ``endpoint_url`` names instead.
WILDCARD_HOSTS = {"0.0.0.0": HOST, "": HOST, "::": "[::1]"}


class Emulator:
    """Run moto's ThreadedMotoServer in this process with the Glue and Athena extensions installed.

    Use as a context manager or call start()/stop(). ``port=None`` picks a free port. ``host`` is the
    address to bind: keep the loopback default unless a container network must reach the server.
    With ``loopback_guard`` (the default), start() also installs ``focus_emulator.guard``, so no
    botocore client of this process can send a request to a host other than loopback.
    """

    def __init__(self, port: int | None = None, loopback_guard: bool = True, host: str = HOST) -> None:
        self.host = host
        self.port = port or 0
        self.loopback_guard = loopback_guard
        self.endpoint_url = ""
        self._server: ThreadedMotoServer | None = None
        self._cache_dir: Path | None = None

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        # werkzeug logs every request at INFO; keep the emulator's own start and stop lines readable.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self.loopback_guard:
            guard.install()
        self._cache_dir = Path(tempfile.mkdtemp(prefix="focus-emulator-"))
        crawler.install()
        athena.install(Engine(self._cache_dir / "objects"))
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        url_host = WILDCARD_HOSTS.get(host, host)
        if ":" in url_host and not url_host.startswith("["):
            url_host = f"[{url_host}]"
        self.endpoint_url = f"http://{url_host}:{port}"
        log.info("AWS emulator started at %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        if self._cache_dir is not None:
            shutil.rmtree(self._cache_dir, ignore_errors=True)
        log.info("AWS emulator at %s stopped", self.endpoint_url)

    def reset(self) -> None:
        """Clear every resource of every service through moto's reset API."""
        if not self.endpoint_url:
            raise RuntimeError("The emulator is not running; call start() before reset().")
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            response.read()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
