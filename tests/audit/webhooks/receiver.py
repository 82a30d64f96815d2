"""The other side of a webhook: a real HTTP server and a Standard Webhooks verifier.

``verify_standard_webhook`` is written from the spec (https://www.standardwebhooks.com/),
not with the signer under test: HMAC-SHA256 keyed with the base64-decoded part of the
``whsec_`` secret, over ``{webhook-id}.{webhook-timestamp}.{raw body}``, base64-encoded,
compared in constant time to each space-separated ``v1,<sig>`` of ``webhook-signature``;
the timestamp must be within the tolerance of now.
"""

import base64
import contextlib
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify_standard_webhook(
    *, secret: str, headers: dict, body: bytes, tolerance: int = 300, now: float | None = None
) -> bool:
    try:
        msg_id = headers["webhook-id"]
        timestamp = headers["webhook-timestamp"]
        signatures = headers["webhook-signature"]
    except KeyError:
        return False
    now = time.time() if now is None else now
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 (a free port) that records every request and answers
    with the next of ``statuses`` (the last one repeats), after ``delay`` seconds, with
    ``answer`` as the body (bytes, or a function of the request received: a pre-write
    hook's verdict)."""

    def __init__(self, statuses=(200,), delay: float = 0.0, answer=b"") -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.answer = answer
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with receiver._lock:
                    receiver.requests.append(received)
                    index = len(receiver.requests) - 1
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                answer = receiver.answer
                answer = answer(received) if callable(answer) else answer
                time.sleep(receiver.delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def handle(self):
                # The caller may have stopped waiting (a timeout test). Printing that
                # traceback from this thread, maybe while a later test runs, would call
                # ast.parse (Python 3.11's carets) alongside that test's: a SystemError there.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    super().handle()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/tenantry"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
