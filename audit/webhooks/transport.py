"""One webhook request: an HTTP(S) POST with a timeout, no redirects, and no requests into
private networks.

Endpoint URLs are chosen by tenants, so the worker must not become their proxy into our
network (SSRF). The host is resolved once, every address is checked, and the connection goes
to a checked address (TLS still verifies the certificate for the host name), so DNS cannot
answer differently between the check and the connect. Redirects are not followed: a 3xx is
a failed attempt like any other non-2xx.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

USER_AGENT = "Tenantry-Webhooks/1.0"


class DeliveryError(Exception):
    """No HTTP response. The message names the failure only (never headers or body), so it
    is safe to store as a delivery's last error."""


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> int:
    """POST ``body`` as JSON to ``url`` and return the response status code."""
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
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        # Only the status matters; the body is never read (nor stored).
        return connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:200]) from exc
    finally:
        connection.close()


def _resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError(f"cannot resolve {host}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise DeliveryError(f"cannot resolve {host}")
    if not allow_private and not all(_is_public(address) for address in addresses):
        raise DeliveryError(f"refused: {host} resolves to a private or reserved address")
    return addresses


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


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
