"""A local OpenID provider standing in for Google: ``oidc-provider-mock`` (0.3 line) in a
thread on a free 127.0.0.1 port. Its authorization page is a form where the test types the
subject; ``PUT /users/<sub>`` sets that subject's claims (email, email_verified, name)."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Provider:
    url: str

    def set_user(self, sub: str, **claims: object) -> None:
        response = httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        response.raise_for_status()


@contextmanager
def oidc_provider() -> Iterator[Provider]:
    # The mock speaks plain http on localhost; authlib refuses that unless told.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=0, require_nonce=True) as server:
        yield Provider(url=f"http://localhost:{server.server_port}")
