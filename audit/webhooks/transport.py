"""One webhook request: an HTTP(S) POST with a timeout, no redirects, and no requests into
private networks.

Endpoint URLs are chosen by tenants, so the worker must not become their proxy into our
network (SSRF). The host is resolved once, every address is checked, and the connection goes
to a checked address (TLS still verifies the certificate for the host name), so DNS cannot
answer differently between the check and the connect. Redirects are not followed: a 3xx is
a failed attempt like any other non-2xx. ``timeout`` bounds the whole request, not each
read: a receiver that drips its answer a byte at a time is cut off at the deadline.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from audit.webhooks.addresses import is_deliverable

USER_AGENT = "Tenantry-Webhooks/1.0"


class DeliveryError(Exception):
    """No HTTP response. The message names the failure only (never headers or body), so it
    is safe to store as a delivery's last error."""


class TimedOut(DeliveryError):
    """No complete answer within the timeout."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most the ``read_limit`` asked for; empty when none was


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> int:
    """POST ``body`` as JSON to ``url`` and return the response status code."""
    return exchange(
        url, body=body, headers=headers, timeout=timeout, allow_private=allow_private
    ).status


def exchange(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    allow_private: bool,
    read_limit: int = 0,
) -> Answer:
    """POST ``body`` as JSON to ``url``; the status and up to ``read_limit`` bytes of the
    answer's body (pre-write hooks read the verdict there; webhook deliveries read none).
    ``timeout`` bounds the whole exchange, reading the answer included."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("unsupported URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryError("invalid port") from exc
    addresses = _resolve(parts.hostname, port, allow_private=allow_private)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname, port, addresses, timeout)
    else:
        connection = _PinnedHTTPConnection(parts.hostname, port, addresses, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    watchdog: threading.Timer | None = None
    try:
        connection.connect()
        # Per-read timeouts alone never end a slow drip; past the deadline the socket is
        # shut down under the reader, which then fails like any other network error.
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, [connection])
        watchdog.daemon = True
        watchdog.start()
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        # Only what the caller asked for is read: the rest of a large answer never is.
        return Answer(status=response.status, body=response.read(read_limit) if read_limit else b"")
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise TimedOut("timed out") from exc
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:200]) from exc
    finally:
        if watchdog is not None:
            watchdog.cancel()
        connection.close()


def _cut(connection: http.client.HTTPConnection) -> None:
    with contextlib.suppress(OSError):
        if connection.sock is not None:
            connection.sock.shutdown(socket.SHUT_RDWR)


def _resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    # One message whether the name does not resolve or resolves somewhere refused: the
    # delivery log is tenant-visible and must not become a probe of our internal DNS.
    refused = DeliveryError("refused: the host cannot be delivered to")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise refused from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise refused
    if not allow_private and not all(is_deliverable(address) for address in addresses):
        raise refused
    return addresses


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    # Each checked address in turn, as socket.create_connection does with a name.
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Sends ``Host: <host>`` but connects only to the already checked ``addresses``."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect(self._addresses, self.port, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
