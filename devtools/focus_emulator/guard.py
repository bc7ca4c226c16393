"""Keep every AWS client of the tests and the demo on loopback.

``install()`` adds a botocore ``before-send`` handler to every botocore session, existing and
future (boto3, the Amazon provider hooks, PyAthena). The handler raises NonLoopbackRequestError
before the request reaches the HTTP layer, so a request for a host other than loopback, or one
that an environment proxy would carry, is never sent. ``block_non_loopback_sockets()`` is a
second, socket-level guard for tests: it rejects ``getaddrinfo`` of names other than localhost
and ``connect`` to addresses other than loopback, so nothing leaves even if the first guard is
bypassed.

NOTE: both guards cover Python code only. Native HTTP clients, such as pyarrow's S3FileSystem
(the AWS C++ SDK) or a DuckDB extension, open their own sockets and are not checked.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import botocore.handlers
import botocore.session
from botocore.utils import get_environ_proxies

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
EVENT = "before-send"
_installed = threading.Lock()
_sessions_seen: list[Any] = []


class NonLoopbackRequestError(RuntimeError):
    """Raised instead of sending a request to a host that is not loopback."""


def is_loopback_host(host: str | None) -> bool:
    """Return whether ``host`` is ``localhost`` or a literal loopback IP address (no DNS lookup)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_request_url(url: str) -> None:
    """Raise NonLoopbackRequestError unless ``url`` and any environment proxy for it are loopback."""
    host = urlsplit(url).hostname
    if not is_loopback_host(host):
        raise NonLoopbackRequestError(
            f"Blocked a request to {host} ({url.split('?')[0]}): only loopback endpoints are allowed "
            "here. Set endpoint_url to the local emulator (the aws_default connection's extra)."
        )
    for proxy in get_environ_proxies(url).values():
        proxy_host = urlsplit(proxy).hostname
        if not is_loopback_host(proxy_host):
            raise NonLoopbackRequestError(
                f"Blocked a request to {host} through the proxy {proxy_host}: add {host} to NO_PROXY."
            )


def _before_send(request: Any, **_: Any) -> None:
    if _in_process_mock_active():
        # moto's in-process mock (``mock_aws``) handles the request itself, so nothing is sent.
        return
    check_request_url(request.url)


def _in_process_mock_active() -> bool:
    try:
        from moto.core.models import botocore_stubber
    except ImportError:
        return False
    return bool(botocore_stubber.enabled)


def _exclude_loopback_from_proxies() -> None:
    """Add the loopback names to NO_PROXY and no_proxy, so a proxy from the environment is skipped."""
    for name in ("NO_PROXY", "no_proxy"):
        entries = [entry.strip() for entry in os.environ.get(name, "").split(",") if entry.strip()]
        missing = [host for host in LOOPBACK_NAMES if host not in entries]
        if missing:
            os.environ[name] = ",".join(entries + missing)


def install() -> None:
    """Register the before-send guard on every botocore session and bypass proxies for loopback.

    Idempotent. New sessions get the handler from botocore's built-in handler list; the default
    boto3 session, if it already exists, is registered here.
    """
    with _installed:
        _exclude_loopback_from_proxies()
        entry = (EVENT, _before_send)
        if entry not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append(entry)
            log.info("Installed the loopback guard on every botocore session")
        import boto3

        default = boto3.DEFAULT_SESSION
        if default is not None and default._session not in _sessions_seen:
            default._session.register(EVENT, _before_send, unique_id="focus-emulator-loopback-guard")
            _sessions_seen.append(default._session)


def _is_loopback_address(address: Any) -> bool:
    if isinstance(address, tuple) and address:
        return is_loopback_host(str(address[0]))
    # AF_UNIX paths and socketpair() never leave the machine.
    return isinstance(address, str | bytes)


@contextmanager
def block_non_loopback_sockets() -> Iterator[list[tuple[Any, ...]]]:
    """Reject name lookups and connections that are not loopback; yield the allowed connections.

    Raises NonLoopbackRequestError from ``socket.getaddrinfo`` for any name other than a loopback
    name or address, and from ``socket.connect``/``connect_ex`` for any non-loopback address,
    before a packet is sent. The yielded list receives each allowed ``connect`` address.
    """
    original_getaddrinfo = socket.getaddrinfo
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    connected: list[tuple[Any, ...]] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback_host(str(name)):
            raise NonLoopbackRequestError(f"Blocked a DNS lookup of {name}: only loopback is allowed here.")
        return original_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if not _is_loopback_address(address):
            raise NonLoopbackRequestError(
                f"Blocked a connection to {address}: only loopback is allowed here."
            )
        connected.append(address if isinstance(address, tuple) else (address,))
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_loopback_address(address):
            raise NonLoopbackRequestError(
                f"Blocked a connection to {address}: only loopback is allowed here."
            )
        connected.append(address if isinstance(address, tuple) else (address,))
        return original_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    try:
        yield connected
    finally:
        socket.getaddrinfo = original_getaddrinfo
        socket.socket.connect = original_connect
        socket.socket.connect_ex = original_connect_ex
