import ipaddress
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from apikeys import crypto
from apikeys.models import APIKey
from audit.actors import client_ip
from orgs.context import OrgContext


def presented_key(request: Request) -> str | None:
    """The key from ``X-API-Key``, ``Authorization: Bearer <key>`` or ``Authorization: <key>``.

    Never from the query string or the body: those end up in logs and browser history.
    """
    header = request.META.get("HTTP_X_API_KEY")
    if header:
        return header.strip()
    auth = get_authorization_header(request).decode("latin-1").strip()
    if not auth:
        return None
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "bearer" and rest:
        return rest.strip()
    return auth if " " not in auth else None


class APIKeyAuthentication(BaseAuthentication):
    """An API key, acting as its creator's current membership narrowed by its scopes.

    A key of the wrong shape or checksum is refused before any query. Otherwise one
    indexed query fetches the key with its creator's membership, user and org.
    """

    def authenticate(self, request: Request) -> tuple[Any, OrgContext] | None:
        raw = presented_key(request)
        if raw is None:
            return None
        if not crypto.looks_like_key(raw):
            if request.META.get("HTTP_X_API_KEY"):
                raise exceptions.AuthenticationFailed("Invalid API key")
            return None  # a Bearer token of another kind: not ours to judge
        parsed = crypto.parse(raw)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        key = (
            APIKey.dangerously_unscoped.select_related("membership__user", "membership__org")
            .filter(key_hash__in=crypto.candidate_digests(parsed.raw))
            .first()
        )  # spans orgs on purpose: the key names its org
        now = timezone.now()
        if key is None or key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("API key has expired", code="expired")
        membership = key.membership
        if membership is None or not membership.is_active or not membership.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid API key")
        ip = client_ip(request)
        _check_allow_lists(key, request, ip)
        _note_use(request, key, ip)
        scopes = frozenset(key.scopes) if key.scopes is not None else None
        context = OrgContext(
            membership=membership, credential="api_key", scopes=scopes, credential_id=key.pk
        )
        return membership.user, context

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _check_allow_lists(key: APIKey, request: Request, ip: str | None) -> None:
    origin = request.META.get("HTTP_ORIGIN")
    # Browsers always send Origin on cross-origin calls; servers usually send none, and a
    # key with an origin allow-list is meant to be usable from servers as well.
    if key.allowed_origins and origin and origin.lower() not in key.allowed_origins:
        raise exceptions.PermissionDenied("This API key may not be used from this origin")
    if key.allowed_ips:
        try:
            address = ipaddress.ip_address(ip or "")
        except ValueError:
            address = None
        networks = [ipaddress.ip_network(block) for block in key.allowed_ips]
        if address is None or not any(address in network for network in networks):
            raise exceptions.PermissionDenied("This API key may not be used from this address")


def _note_use(request: Request, key: APIKey, ip: str | None) -> None:
    """Mark the key for a last-used write, at most once a minute per key.

    cache.add is atomic (Redis SET NX), so across processes only one request a minute per
    key wins; the write itself runs after the response is sent (KeyUsageMiddleware).
    """
    if cache.add(f"apikey-used:{key.pk}", 1, timeout=settings.API_KEY_LAST_USED_INTERVAL):
        request._request.api_key_use = (key.pk, ip)  # type: ignore[attr-defined]
