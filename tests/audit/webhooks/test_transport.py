"""The webhook request itself: no redirects, no private networks, TLS when https."""

import contextlib
import socket
import threading
import time

import pytest

from audit.webhooks.addresses import is_deliverable
from audit.webhooks.transport import DeliveryError, post


def _post(url, allow_private=True):
    return post(url, body=b"{}", headers={}, timeout=5, allow_private=allow_private)


def test_returns_the_status_without_following_a_redirect(make_receiver):
    receiver = make_receiver(statuses=[302])
    assert _post(receiver.url) == 302
    assert len(receiver.requests) == 1


def test_host_header_names_the_host_while_the_checked_address_is_dialled(receiver):
    _post(receiver.url.replace("127.0.0.1", "localhost"))
    assert receiver.requests[0].headers["host"].startswith("localhost:")


def test_https_speaks_tls(receiver):
    # The receiver only speaks plain HTTP, so a TLS handshake with it must fail.
    with pytest.raises(DeliveryError, match="SSL"):
        _post(receiver.url.replace("http://", "https://"))
    assert receiver.requests == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_names_and_addresses_of_private_networks_are_refused(receiver, host):
    port = receiver.url.split(":")[2].split("/")[0]
    with pytest.raises(DeliveryError, match="cannot be delivered to"):
        _post(f"http://{host}:{port}/hook", allow_private=False)
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("::ffff:127.0.0.1", False),
        ("fe80::1%eth0", False),
        ("100.64.0.1", False),
        # IPv6 addresses that carry an internal IPv4 one (NAT64, 6to4, compatible, mapped)
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::5db8:d70e", True),
        ("2002:a9fe:a9fe::1", False),
        ("::a9fe:a9fe", False),
        ("::ffff:0:a9fe:a9fe", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("224.0.0.1", False),
    ],
)
def test_only_globally_routable_addresses_count_as_public(address, public):
    assert is_deliverable(address) is public


@pytest.mark.parametrize("url", ["ftp://example.test/x", "http:///nohost", "http://x:99999/"])
def test_unusable_urls_fail_without_a_request(url):
    with pytest.raises(DeliveryError):
        _post(url)


def test_an_unresolvable_name_is_refused_with_the_same_message_as_a_private_one():
    with pytest.raises(DeliveryError, match=r"^refused: the host cannot be delivered to$"):
        _post("http://no-such-host.invalid/hook", allow_private=False)


@contextlib.contextmanager
def _dripping(*, first: bytes, each: bytes, every: float, read_request: bool):
    """A 127.0.0.1 server that sends ``first``, then ``each`` every ``every`` seconds until
    the test ends: every single read the client makes succeeds in time. Yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def drip():
        conn, _ = server.accept()
        try:
            if read_request:
                conn.recv(65536)
            conn.sendall(first)
            while not stop.is_set():
                conn.sendall(each)
                time.sleep(every)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


def test_the_timeout_bounds_the_whole_request_not_each_read():
    # An answer of one byte every 0.2 s, forever.
    with _dripping(first=b"", each=b"H", every=0.2, read_request=True) as port:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="timed out"):
            post(
                f"http://127.0.0.1:{port}/", body=b"{}", headers={}, timeout=1.0, allow_private=True
            )
        assert time.monotonic() - started < 5


# --- The deadline covers every phase: resolving, connecting, the TLS handshake ---------
# Each test below would take a multiple of its timeout if a phase had a clock of its own.

TIMEOUT = 0.4


@pytest.fixture
def silent_listener():
    """A 127.0.0.1 port that takes TCP connections and never says a word."""

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def blackhole():
    """A 127.0.0.1 port whose connects hang, like an unroutable address's: its listener's
    backlog is full and never accepted from, so the kernel drops further SYNs."""

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    held = [socket.create_connection(("127.0.0.1", port), timeout=1)]
    probe = socket.socket()
    probe.settimeout(0.1)
    try:
        probe.connect(("127.0.0.1", port))
        held.append(probe)  # a kernel with a roomier backlog: fill another slot
    except OSError:
        probe.close()
    yield port
    for sock in held:
        sock.close()
    server.close()


def _several(monkeypatch, count):
    """The name ``several.test`` resolves to ``count`` addresses (all 127.0.0.1 here)."""

    from audit.webhooks import transport

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "several.test":  # socket.create_connection's own look-up of an address
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))] * count

    monkeypatch.setattr(transport.socket, "getaddrinfo", getaddrinfo)


def _timed(url):

    started = time.monotonic()
    with pytest.raises(DeliveryError, match="timed out") as raised:
        post(url, body=b"{}", headers={}, timeout=TIMEOUT, allow_private=True)
    return time.monotonic() - started, raised.value


def test_a_name_with_several_hanging_addresses_shares_one_deadline(monkeypatch, blackhole):
    from audit.webhooks.transport import TimedOut

    _several(monkeypatch, 4)
    elapsed, error = _timed(f"http://several.test:{blackhole}/")
    assert isinstance(error, TimedOut)
    assert elapsed < TIMEOUT * 3  # not 4 x TIMEOUT (room for a loaded machine)


def test_a_tls_handshake_that_never_completes_is_cut_at_the_deadline(silent_listener):
    elapsed, _ = _timed(f"https://127.0.0.1:{silent_listener}/")
    assert elapsed < TIMEOUT * 3


def test_a_tls_handshake_dripped_a_byte_at_a_time_is_cut_at_the_deadline():
    # A TLS handshake record header announcing 16 KiB, then one byte of it every 0.05 s.
    with _dripping(
        first=b"\x16\x03\x03\x40\x00", each=b"\x02", every=0.05, read_request=False
    ) as port:
        elapsed, _ = _timed(f"https://127.0.0.1:{port}/")
    assert elapsed < TIMEOUT * 3


def test_time_spent_resolving_counts_toward_the_deadline(monkeypatch, silent_listener):
    # A slow resolver, then a server that never answers: the wait is one timeout, not two.

    from audit.webhooks import transport

    real = socket.getaddrinfo

    def slow_getaddrinfo(host, port, *args, **kwargs):
        if host != "slow.test":  # socket.create_connection's own look-up of an address
            return real(host, port, *args, **kwargs)
        time.sleep(TIMEOUT * 0.75)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(transport.socket, "getaddrinfo", slow_getaddrinfo)
    elapsed, _ = _timed(f"https://slow.test:{silent_listener}/")
    assert elapsed < TIMEOUT * 1.5


def test_a_resolver_slower_than_the_deadline_times_out_without_connecting(monkeypatch):

    from audit.webhooks import transport

    def slower_getaddrinfo(host, port, *args, **kwargs):
        time.sleep(TIMEOUT * 1.25)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    def connect(*args, **kwargs):
        raise AssertionError("connected after the deadline")

    monkeypatch.setattr(transport.socket, "getaddrinfo", slower_getaddrinfo)
    monkeypatch.setattr(transport.socket, "create_connection", connect)
    _timed("http://slow.test:1/")
