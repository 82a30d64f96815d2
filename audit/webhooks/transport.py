"""One webhook request: an HTTP(S) POST with a timeout, no redirects, and no requests into
private networks.

Endpoint URLs are chosen by tenants, so the worker must not become their proxy into our
network (SSRF). The host is resolved once, every address is checked, and the connection goes
to a checked address (TLS still verifies the certificate for the host name), so DNS cannot
answer differently between the check and the connect. Redirects are not followed: a 3xx is
a failed attempt like any other non-2xx.

``timeout`` bounds the whole request, not each phase or read: one deadline is set before the
name is resolved, and resolving, connecting (all the name's addresses together, not each),
the TLS handshake, sending and reading the answer all spend from it. A receiver that drips
its handshake or its answer a byte at a time is cut off at the deadline: a watchdog shuts
the socket down under the reader. One limit: ``getaddrinfo`` cannot be interrupted, so a
hanging resolver is bounded by the system resolver's own timeout (resolv.conf ``timeout``
and ``attempts``), not ours; the time it takes counts toward the deadline, and nothing is
dialled once the deadline has passed.
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
    ``timeout`` bounds the whole exchange, from resolving the name to reading the answer
    (see the module's docstring for the resolver's one exception)."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("unsupported URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryError("invalid port") from exc
    addresses = _resolve(parts.hostname, port, allow_private=allow_private)
    if time.monotonic() >= deadline:
        raise TimedOut("timed out")
    connection: _Pinned
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname, port, addresses, timeout, deadline)
    else:
        connection = _PinnedHTTPConnection(parts.hostname, port, addresses, timeout, deadline)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Per-read timeouts alone never end a slow drip (of the TLS handshake or of the answer);
    # past the deadline the socket is shut down under the reader, which then fails like any
    # other network error. Started before connecting, so the handshake is covered too.
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, [connection])
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.connect()
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
        watchdog.cancel()
        connection.close()


def _cut(connection: "_Pinned") -> None:
    # Whatever socket exists: the TLS one mid-handshake is already ``connection.sock``
    # (see _PinnedHTTPSConnection.connect). socket.socket.shutdown on the descriptor itself,
    # not SSLSocket.shutdown, which would also drop the TLS state a reader thread is using.
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


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


def _connect(addresses: list[str], port: int, timeout: float, deadline: float) -> socket.socket:
    # Each checked address in turn, as socket.create_connection does with a name, but all of
    # them within the one deadline: N unroutable addresses must not take N timeouts.
    error: OSError = TimeoutError("timed out")
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out") from error
        try:
            return socket.create_connection((address, port), min(timeout, remaining))
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Sends ``Host: <host>`` but connects only to the already checked ``addresses``,
    within ``deadline`` (a ``time.monotonic()`` value)."""

    def __init__(
        self, host: str, port: int, addresses: list[str], timeout: float, deadline: float
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._timeout = timeout
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self._timeout, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, addresses: list[str], timeout: float, deadline: float
    ) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._addresses = addresses
        self._timeout = timeout
        self._deadline = deadline

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self._timeout, self._deadline)
        # The handshake runs with the TLS socket already in ``self.sock``, where the watchdog
        # finds it (wrap_socket's own handshake would run on a socket no one else can see),
        # and with what is left of the deadline as its timeout (CPython bounds a handshake's
        # total by the socket timeout; the watchdog is the backstop).
        self.sock = self._tls.wrap_socket(
            raw, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.sock.settimeout(max(0.001, self._deadline - time.monotonic()))
        self.sock.do_handshake()
        self.sock.settimeout(self._timeout)


_Pinned = _PinnedHTTPConnection | _PinnedHTTPSConnection
