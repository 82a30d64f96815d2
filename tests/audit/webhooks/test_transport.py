"""The webhook request itself: no redirects, no private networks, TLS when https."""

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


def test_the_timeout_bounds_the_whole_request_not_each_read():
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    stop = threading.Event()

    def drip():  # answers one byte every 0.2 s, forever: each read succeeds in time
        conn, _ = server.accept()
        conn.recv(65536)
        try:
            while not stop.is_set():
                conn.sendall(b"H")
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(DeliveryError, match="timed out"):
            post(
                f"http://127.0.0.1:{port}/", body=b"{}", headers={}, timeout=1.0, allow_private=True
            )
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)
