import functools
import ipaddress
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.authentication import authorization_header, request_meta
from accounts.credential_rows import (
    MEMBER_COLUMNS,
    MEMBER_JOINS,
    ModelColumns,
    attach,
    fetch_row,
    in_org,
    membership_from_row,
)
from apikeys import crypto
from apikeys.models import APIKey
from audit.actors import client_ip
from orgs.context import OrgContext
from orgs.models import Membership

# What verifying a key needs of it, nothing more (its name, prefix and digest are not read).
_KEY = ModelColumns(
    APIKey,
    "k",
    leave_out=tuple(
        f.name
        for f in APIKey._meta.concrete_fields
        if f.name
        not in {"id", "org", "membership", "scopes", "allowed_origins", "allowed_ips",
                "expires_at", "revoked_at", "rate_limit"}
    ),
)  # fmt: skip
# One statement, compiled once. A key whose creator left the org has no membership and
# finds no row. On PostgreSQL the statement first names the key's org for the transaction
# (tenantry_enter_org_by_key_hash: SECURITY DEFINER, apikeys migration 0004, the one
# cross-org read a key's request makes), then reads the key under that org's row-level
# security (accounts.credential_rows.in_org).
_KEY_WITH_MEMBER = (
    f"SELECT {_KEY.sql}, {MEMBER_COLUMNS} FROM {APIKey._meta.db_table} k"  # noqa: S608
    f" JOIN {Membership._meta.db_table} m ON m.id = k.membership_id AND m.org_id = k.org_id"
    f" {MEMBER_JOINS} WHERE "
)
_ROW_SECURITY = connection.vendor == "postgresql"
_KEY_MEMBERSHIP = APIKey._meta.get_field("membership")
_KEY_ORG_INDEX = _KEY.attnames.index("org_id")


@functools.cache
def _key_lookup(digests: int) -> str:
    """The lookup for as many candidate digests as there are peppers (one statement each);
    its parameters are the digests, twice on PostgreSQL (``_key_params``)."""
    listed = "(" + ", ".join(["%s"] * digests) + ")"
    if not _ROW_SECURITY:
        return f"{_KEY_WITH_MEMBER}k.key_hash IN {listed}"
    return in_org(
        f"tenantry_enter_org_by_key_hash(ARRAY[{', '.join(['%s'] * digests)}]::text[])",
        f"{_KEY_WITH_MEMBER}k.org_id = s.org AND m.org_id = s.org AND k.key_hash IN {listed}",
    )


def _key_params(digests: list[str]) -> list[str]:
    return [*digests, *digests] if _ROW_SECURITY else list(digests)


@functools.cache
def _key_lookup_in_known_org(digests: int) -> str:
    """The same lookup for a key whose org this process has already seen (``key_orgs``): the
    statement names that org itself, as the JWT's names its token's, instead of asking the
    SECURITY DEFINER function (about 15 of the statement's 80 µs of PostgreSQL CPU,
    bench/profiles/server_cost.txt). Parameters: the org's id, then the digests. Row-level
    security is the same: only that org's key, membership and org rows can be read."""
    listed = "(" + ", ".join(["%s"] * digests) + ")"
    return in_org(
        "set_config('app.org_id', %s, true)::bigint",
        f"{_KEY_WITH_MEMBER}k.org_id = s.org AND m.org_id = s.org AND k.key_hash IN {listed}",
    )


class KeyOrgs:
    """The org of each key this process has verified, by the key's digests.

    A key never changes org (no service writes ``APIKey.org``), so the mapping cannot go
    stale while the key exists; everything that can change (revocation, expiry, the
    creator's membership, role and user) is still read on every request. If the org named
    finds no row (the key was deleted, or a test's database rolled back), the entry is
    forgotten and the definer's lookup answers, in a second statement that only such a
    request pays. Bounded: emptied when full.
    """

    def __init__(self) -> None:
        self._orgs: dict[tuple[str, ...], int] = {}

    def get(self, digests: tuple[str, ...]) -> int | None:
        return self._orgs.get(digests)

    def remember(self, digests: tuple[str, ...], org_id: int) -> None:
        if len(self._orgs) >= 10_000:
            self._orgs = {}
        self._orgs[digests] = org_id

    def forget(self, digests: tuple[str, ...]) -> None:
        self._orgs.pop(digests, None)

    def clear(self) -> None:
        self._orgs.clear()


key_orgs = KeyOrgs()


def _fetch_key_row(digests: list[str]) -> Any:
    """The key's row with its creator's membership, user and org, or None."""
    if not _ROW_SECURITY:
        return fetch_row(_key_lookup(len(digests)), _key_params(digests))
    known = tuple(digests)
    org_id = key_orgs.get(known)
    if org_id is not None:
        row = fetch_row(_key_lookup_in_known_org(len(digests)), [str(org_id), *digests])
        if row is not None:
            return row
        key_orgs.forget(known)
    row = fetch_row(_key_lookup(len(digests)), _key_params(digests))
    if row is not None:
        key_orgs.remember(known, row[_KEY_ORG_INDEX])
    return row


def presented_key(request: Request) -> str | None:
    """The key from ``X-API-Key``, ``Authorization: Bearer <key>`` or ``Authorization: <key>``.

    Never from the query string or the body: those end up in logs and browser history.
    """
    header = request_meta(request).get("HTTP_X_API_KEY")
    if header:
        return header.strip()
    auth = authorization_header(request).decode("latin-1").strip()
    if not auth:
        return None
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "bearer" and rest:
        return rest.strip()
    return auth if " " not in auth else None


class APIKeyAuthentication(BaseAuthentication):
    """An API key, acting as its creator's current membership narrowed by its scopes.

    A key of the wrong shape or checksum is refused before any query. Otherwise one
    indexed query fetches the key with its creator's membership, user and org, on every
    request: a revoked key or a removed member fails on the very next one.
    """

    def authenticate(self, request: Request) -> tuple[Any, OrgContext] | None:
        raw = presented_key(request)
        if raw is None:
            return None
        if not crypto.looks_like_key(raw):
            if request_meta(request).get("HTTP_X_API_KEY"):
                raise exceptions.AuthenticationFailed("Invalid API key")
            return None  # a Bearer token of another kind: not ours to judge
        parsed = crypto.parse(raw)
        if parsed is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        digests = crypto.candidate_digests(parsed.raw)
        row = _fetch_key_row(digests)
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        key: APIKey = _KEY.build(row, 0)
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("API key has expired", code="expired")
        membership = membership_from_row(row, len(_KEY))
        if not membership.is_active or not membership.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid API key")
        attach(key, _KEY_MEMBERSHIP, membership)  # (key.membership_id is membership.id)
        # (The caller's address is parsed only where it is used: an IP allow-list, or the
        # last-used write, at most once a minute per key.)
        _check_allow_lists(key, request)
        _note_use(request, key)
        scopes = frozenset(key.scopes) if key.scopes is not None else None
        context = OrgContext(
            membership=membership,
            credential="api_key",
            scopes=scopes,
            credential_id=key.pk,
            rate_limit=key.rate_limit or None,  # its own bucket's rate (orgs.ratelimits)
        )
        return membership.user, context

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def _check_allow_lists(key: APIKey, request: Request) -> None:
    if key.allowed_origins:  # (most keys have neither list: nothing of the request is read)
        origin = request_meta(request).get("HTTP_ORIGIN")
        # Browsers always send Origin on cross-origin calls; servers usually send none, and
        # a key with an origin allow-list is meant to be usable from servers as well.
        if origin and origin.lower() not in key.allowed_origins:
            raise exceptions.PermissionDenied("This API key may not be used from this origin")
    if key.allowed_ips:
        try:
            address = ipaddress.ip_address(client_ip(request) or "")
        except ValueError:
            address = None
        networks = [ipaddress.ip_network(block) for block in key.allowed_ips]
        if address is None or not any(address in network for network in networks):
            raise exceptions.PermissionDenied("This API key may not be used from this address")


class UseThrottle:
    """Which keys this process has already asked Redis about within the interval.

    Only a hint that saves the round trip: Redis still decides, across processes and hosts,
    which request of the minute writes. Holds one entry per key used in the last interval.
    """

    def __init__(self) -> None:
        self._until: dict[int, float] = {}

    def due(self, key_id: int) -> bool:
        now = time.monotonic()
        if self._until.get(key_id, 0.0) > now:
            return False
        if len(self._until) >= 10_000:
            self._until = {k: t for k, t in self._until.items() if t > now}
        self._until[key_id] = now + settings.API_KEY_LAST_USED_INTERVAL
        return True

    def clear(self) -> None:
        self._until.clear()


use_throttle = UseThrottle()


def _note_use(request: Request, key: APIKey) -> None:
    """Mark the key for a last-used write, at most once a minute per key.

    A process asks Redis at most once a minute per key (``use_throttle``), and cache.add is
    atomic (Redis SET NX), so across processes only one request a minute per key wins; the
    write itself runs after the response is sent (KeyUsageMiddleware).
    """
    if not use_throttle.due(key.pk):
        return
    if cache.add(f"apikey-used:{key.pk}", 1, timeout=settings.API_KEY_LAST_USED_INTERVAL):
        request._request.api_key_use = (key.pk, client_ip(request))  # type: ignore[attr-defined]
