"""Who did it, and from where: carried into every service call and every audit row."""

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings


class _HasEmail(Protocol):
    pk: Any
    email: str


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def from_request(cls, request: Any) -> "RequestContext":
        meta = getattr(request, "META", {})
        return cls(
            ip=client_ip(request),
            user_agent=(meta.get("HTTP_USER_AGENT") or "")[:512],
            request_id=getattr(request, "request_id", "") or "",
        )


@dataclass(frozen=True)
class Actor:
    """``type`` is ``user``, ``api_key`` or ``system``; ``user_id`` is whoever is accountable."""

    type: str
    id: str
    label: str
    user_id: int | None = None
    context: RequestContext = field(default_factory=RequestContext)

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(type="system", id="", label=label)

    @classmethod
    def for_user(
        cls, user: _HasEmail, request: Any = None, *, context: RequestContext | None = None
    ) -> "Actor":
        if context is None:
            context = RequestContext.from_request(request) if request is not None else None
        return cls(
            type="user",
            id=str(user.pk),
            label=user.email,
            user_id=user.pk,
            context=context or RequestContext(),
        )


def client_ip(request: Any) -> str | None:
    """The caller's address. Behind TRUSTED_PROXY_COUNT proxies, each appending to
    X-Forwarded-For, it is that many entries from the right; anything further left was
    written by the client and proves nothing. An entry there that is not an IP address
    (a proxy misconfigured, or a client's junk when the count is too high) is ignored in
    favour of REMOTE_ADDR, the TCP peer: it is never handed on to rate limits or audit rows.

    REMOTE_ADDR is the peer only when the server does not rewrite it itself: run uvicorn
    with ``--no-proxy-headers`` (its default trusts X-Forwarded-For from 127.0.0.1);
    gunicorn leaves REMOTE_ADDR alone."""
    meta = getattr(request, "META", {})
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [p.strip() for p in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops and (address := _address(forwarded[-hops])):
            return address
    return _address(meta.get("REMOTE_ADDR") or "")


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
