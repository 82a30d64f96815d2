"""The browser session as an API credential: the ``tnt_session`` cookie on ``api.<base>``."""

import copy
import functools
import hmac
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from rest_framework import authentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from accounts.credential_rows import (
    MEMBER_COLUMNS,
    MEMBER_JOINS,
    MEMBER_WIDTH,
    fetch_row,
    membership_from_row,
)
from accounts.models import BrowserSession, User
from accounts.session_store import (
    META_KEY,
    ORG_KEY,
    SEEN_KEY,
    CachedDatabaseStore,
    DatabaseStore,
    acting_org_id,
    key_digest,
)
from orgs.context import OrgContext
from orgs.hosts import org_slug_from_host, pick_membership
from orgs.models import Membership
from tenancy.rls import cross_org

# The stores that keep a session in BrowserSession (the configured engine's; a test may
# name another engine, which goes Django's way).
SessionStores = (CachedDatabaseStore, DatabaseStore)

# The backends whose ``get_user`` is "the active user with this pk" (ModelBackend's
# ``user_can_authenticate``, social-core's ``filter_active_users``): a session signed in
# through one of them is read by the one statement below. Any other goes Django's way.
_ACTIVE_USER_BY_PK_BACKENDS = frozenset(
    {"django.contrib.auth.backends.ModelBackend", "accounts.google.GoogleOIDC"}
)

_POSTGRES = connection.vendor == "postgresql"  # (tenantry_person_memberships exists)


class _Settings(NamedTuple):
    """What the session credential reads of the settings on every request, read once (and
    again when a test changes a setting): each ``settings.X`` is a lazy object's attribute
    lookup, a few of them per request."""

    secret_key: str
    use_tz: bool
    # What decoding a session's text depends on (``_decoded``'s key).
    decoding: tuple[Any, ...]
    # The backends the one statement stands in for that are still configured.
    backends: frozenset[str]


_settings: list[_Settings] = []


def _conf() -> _Settings:
    try:
        return _settings[0]
    except IndexError:  # (none yet, or a setting changed: cleared by _forget_settings)
        conf = _Settings(
            secret_key=settings.SECRET_KEY,
            use_tz=settings.USE_TZ,
            decoding=(
                settings.SECRET_KEY,
                tuple(settings.SECRET_KEY_FALLBACKS),
                settings.SESSION_SERIALIZER,
            ),
            backends=_ACTIVE_USER_BY_PK_BACKENDS & frozenset(settings.AUTHENTICATION_BACKENDS),
        )
        _settings[:] = [conf]
        return conf


@receiver(setting_changed)
def _forget_settings(**kwargs: Any) -> None:
    _settings.clear()


def _host_org_slug(request: HttpRequest) -> str | None:
    """``org_slug_from_host(request.get_host())`` without validating the host a second time
    when it names no org: CommonMiddleware has validated it (``get_host`` against
    ALLOWED_HOSTS, ~3 µs) before any view runs, and a host that names no org needs nothing
    more from it. One that names an org is validated again here, as before."""
    if org_slug_from_host(request._get_raw_host()) is None:  # type: ignore[attr-defined]
        return None
    return org_slug_from_host(request.get_host())


# The membership's columns and then its user's password hash, which the session's hash is
# checked against (``_member_with_hash``): what each session statement below selects.
_MEMBER_AND_HASH = f"{MEMBER_COLUMNS}, u.{connection.ops.quote_name('password')}"

# One statement, compiled once: the person (if active) with the active membership they act
# in, chosen as ``orgs.hosts.pick_membership`` chooses (the host's org, then the session's,
# then the oldest), and their password hash, which the session's hash is checked against as
# Django's ``get_user`` checks it. The memberships come from tenantry_person_memberships
# (SECURITY DEFINER, orgs migration 0006: the one cross-org read of a session's request,
# keyed by the person alone). PostgreSQL only; elsewhere Django's way.
_SIGNED_IN_MEMBERSHIP = (
    f"SELECT {_MEMBER_AND_HASH}"  # noqa: S608
    f" FROM tenantry_person_memberships(%s) m {MEMBER_JOINS}"
    " WHERE u.is_active"
    " ORDER BY (o.slug = %s) IS TRUE DESC, (m.org_id = %s) IS TRUE DESC, m.created_at, m.id"
    " LIMIT 1"
)

# The same, and the session itself, in one round trip (on a host that names an org, and
# for a session whose acting org has no membership for it: ``_SESSION_IN_ACTING_ORG`` is
# the common case's): the session's row (the durable copy
# Django's cached_db store writes on every save; a plain table, no org_id, no row-level
# security, read and written by the application role as the store does) with Django's
# expiry filter, and the membership its person acts in, ordered by the org the row copies
# from the session's data (``acting_org_id``). The data is decoded and every copied column
# held equal to it before anything is believed (``_signed_in_by_session_row``). A row
# without a membership comes back with the membership's columns NULL (LEFT JOIN): no row
# at all means the session is ended, which no copy in Redis may overrule.
# Parameters: the host's org slug, the session key, now.
_SESSION_ROW = "s.session_data, s.user_id, s.acting_org_id"
_SESSION_ROW_WIDTH = 3
_SESSION_AND_MEMBERSHIP = (
    f"SELECT {_SESSION_ROW}, t.* FROM {BrowserSession._meta.db_table} s"  # noqa: S608
    f" LEFT JOIN LATERAL (SELECT {_MEMBER_AND_HASH}"
    f" FROM tenantry_person_memberships(s.user_id) m {MEMBER_JOINS}"
    " WHERE u.is_active"
    " ORDER BY (o.slug = %s) IS TRUE DESC, (m.org_id = s.acting_org_id) IS TRUE DESC,"
    " m.created_at, m.id"
    " LIMIT 1) t ON true"
    " WHERE s.session_key = %s AND s.expire_date > %s"
)

# The common case, in one statement without the definer function: the host names no org
# (``api.<base>``), so the membership to act in is the session's acting org's when the person is
# an active member there (what ``pick_membership`` picks first then). The session's row (no
# row-level security) names that org for the transaction, as the key's and the JWT's statements
# name theirs, and the membership is read under that org's row-level security: by person and org
# (the person's index, the org and status filtered on it), no sort, no role switch. Fenced as
# ``accounts.credential_rows.in_org`` is (OFFSET 0 on both sides; the membership a LATERAL
# subquery reading ``s.org``, so only the inner side of a nested loop, scanned after the session's
# row, and its set_config, exist): the plan is held to that in
# tests/accounts/test_session_credential.py. A row whose membership columns are NULL (no acting
# org, not an active member there, a deactivated person) is decided by ``_SESSION_AND_MEMBERSHIP``
# instead, in a second statement only such a request pays; no row at all is an ended session, as
# there. Parameters: the session key, now.
# As the key's and the JWT's, the org named lasts for the statement's transaction: a request
# authenticates before it opens one (``orgs.bases``), so it ends with the statement; inside an
# enclosing transaction (a test's) it stays named after a fallback or a refusal, as a revoked
# key's org does, and the request's own transaction names its org over it.
_SESSION_IN_ACTING_ORG = (
    f"SELECT {_SESSION_ROW}, t.* FROM ("  # noqa: S608
    " SELECT b.session_data, b.user_id, b.acting_org_id,"
    " NULLIF(set_config('app.org_id', COALESCE(b.acting_org_id::text, ''), true), '')::bigint"
    f" AS org FROM {BrowserSession._meta.db_table} b"
    " WHERE b.session_key = %s AND b.expire_date > %s OFFSET 0) s"
    f" LEFT JOIN LATERAL (SELECT {_MEMBER_AND_HASH}"
    f" FROM {Membership._meta.db_table} m {MEMBER_JOINS}"
    " WHERE m.org_id = s.org AND m.user_id = s.user_id"
    f" AND m.status = '{Membership.Status.ACTIVE.value}' AND u.is_active OFFSET 0) t ON true"
)

# A person's active memberships with their user and org, in one statement (the same
# function), for Django's way.
_PERSON_MEMBERSHIPS = (
    f"SELECT {MEMBER_COLUMNS} FROM tenantry_person_memberships(%s) m {MEMBER_JOINS}"  # noqa: S608
    " ORDER BY m.created_at, m.id"
)


class SessionAuthentication(authentication.SessionAuthentication):
    """The signed-in person of the session cookie, acting in one org.

    The org is the subdomain's (``acme.<base>``) when the person is a member there, else
    the session's current org, else their oldest membership; a person with no org has no
    API credential here (the next class, or 401). CSRF is enforced on unsafe methods, as
    DRF's own class does: a cookie alone never authorizes a POST.

    One query: the session's row, the person and that membership in one statement
    (``_signed_in_by_session_row``; no read of the session from Redis before it), which
    also answers Django's ``request.session`` and ``request.user``: on a host that names no
    org, the membership in the org the session acts in, read under that org's row-level
    security; only when there is none (or the host names an org) the memberships
    function's choice, in a second statement. No live row is an ended
    session, anonymous whatever Redis holds. Anything else out of the ordinary (a session
    hash that does not match, another backend, no active membership) goes Django's way: its
    ``get_user`` (which verifies, cycles or flushes the session) and then the membership.
    """

    def authenticate(self, request: Request) -> tuple[Any, OrgContext] | None:
        django_request = request._request
        if getattr(django_request, "user", None) is None:
            return None  # no session middleware ran (a cookieless API request)
        session = django_request.session
        membership = _signed_in(django_request)
        if membership is None:
            user = django_request.user
            if not user.is_active:
                return None
            membership = pick_membership(
                _memberships_of(user.pk),
                host=django_request.get_host(),
                preferred_org_id=session.get(ORG_KEY),
            )
            if membership is None:
                return None
        self.enforce_csrf(request)
        context = OrgContext(
            membership=membership,
            credential="session",
            credential_id=session_public_id(session.session_key or ""),
        )
        return membership.user, context

    def enforce_csrf(self, request: Request) -> None:
        # Django's CSRF check accepts the safe methods without looking (CsrfViewMiddleware,
        # which has run on this request already, did the rest): only the unsafe ones are
        # held to the token.
        if request._request.method not in SAFE_METHODS:  # (not through Request.__getattr__)
            super().enforce_csrf(request)


def _signed_in(request: HttpRequest) -> Membership | None:
    """The membership of a verified session in one statement, its user becoming
    ``request.user``; None for anything Django's own path must decide."""
    if not _POSTGRES or "_cached_user" in request.__dict__:
        return None  # no tenantry_person_memberships, or request.user was read already
    session = request.session
    if "_session_cache" not in session.__dict__ and isinstance(session, SessionStores):
        membership = _signed_in_by_session_row(request, session)
        if membership is not None:
            return membership
    signed_in = _signed_in_as(session)
    if signed_in is None:
        return None
    user_id, session_hash = signed_in
    preferred = session.get(ORG_KEY)
    row = fetch_row(
        _SIGNED_IN_MEMBERSHIP,
        [
            user_id,
            org_slug_from_host(request.get_host()),
            preferred if isinstance(preferred, int) else None,
        ],
    )
    if row is None:
        return None
    return _member_with_hash(request, row, 0, session_hash)


def _signed_in_as(data: Any) -> tuple[int, str] | None:
    """The person and session hash that session ``data`` names, when it was signed in
    through a backend the one statement stands in for (``_ACTIVE_USER_BY_PK_BACKENDS``,
    still configured); None otherwise."""
    try:
        user_id = int(data[SESSION_KEY])
        backend = data[BACKEND_SESSION_KEY]
        session_hash = str(data[HASH_SESSION_KEY])
    except (KeyError, TypeError, ValueError):
        return None
    if backend not in _conf().backends:
        return None
    return user_id, session_hash


def _member_with_hash(
    request: HttpRequest, row: Any, start: int, session_hash: str
) -> Membership | None:
    """The membership at ``start`` in ``row`` (its user's password hash right after it),
    when the session's hash is that password's, as Django's ``get_user`` checks it; its
    user then answers ``request.user``."""
    membership = membership_from_row(row, start)
    user: User = membership.user
    user.password = row[start + MEMBER_WIDTH]
    if not _same(session_hash, _session_auth_hash(user.password)):
        return None
    request._cached_user = user  # type: ignore[attr-defined]  # what request.user answers
    return membership


def _same(given: str, expected: str) -> bool:
    """``constant_time_compare`` for two strings, without its two ``force_bytes``: the
    comparison of ASCII strings (an HMAC's hex digest) is the same ``compare_digest``;
    anything else goes Django's way."""
    try:
        return hmac.compare_digest(given, expected)
    except TypeError:  # (a str that is not ASCII)
        return constant_time_compare(given, expected)


def _signed_in_by_session_row(request: HttpRequest, session: Any) -> Membership | None:
    """The membership of a session not read yet, read WITH the session in one statement
    instead of the session from Redis and then the membership: the session's data becomes
    ``request.session``'s (nothing reads it again; writes go through the store as ever) and
    its user ``request.user``. None for anything but a live, intact session of a person with
    a membership: the caller then goes the usual way, which reads the session as Django
    does (Redis, then the database) and decides as before.

    No live row is an ended (or expired, or never saved) session, whatever Redis holds: the
    row is the copy the store writes first and deletes with the session, and a Redis copy
    without one is stale (``session_store.CachedDatabaseStore``). ``request.session`` is then
    left as the store's load of a missing session leaves it (empty, no key: anonymous, the
    cookie deleted, nothing saved) and the stale copy is deleted, so that neither this
    request nor a page reads it again."""
    session_key = session.session_key  # (None unless the cookie is a valid key)
    if not session_key:
        return None
    now = datetime.now(UTC) if _conf().use_tz else timezone.now()  # (timezone.now's value)
    slug = _host_org_slug(request)
    if slug is None:  # the session's acting org, when the person is an active member there
        row = fetch_row(_SESSION_IN_ACTING_ORG, [session_key, now])
        if row is not None and row[_SESSION_ROW_WIDTH] is None:
            # A live session, acting in no org it may: the host's, the session's, the oldest.
            row = fetch_row(_SESSION_AND_MEMBERSHIP, [slug, session_key, now])
    else:
        row = fetch_row(_SESSION_AND_MEMBERSHIP, [slug, session_key, now])
    if row is None:
        session._session_cache = {}
        session._session_key = None
        session.accessed = True
        if isinstance(session, CachedDatabaseStore):
            session._cache.delete(session.cache_key_prefix + session_key)
        return None
    if row[_SESSION_ROW_WIDTH] is None:
        return None  # no membership to act in: Django's way decides
    session_data, row_user_id, row_org_id = row[:_SESSION_ROW_WIDTH]
    data = _decoded(session, session_data)
    signed_in = _signed_in_as(data)
    if signed_in is None:
        return None
    user_id, session_hash = signed_in
    if user_id != row_user_id or acting_org_id(data) != row_org_id:
        return None
    membership = _member_with_hash(request, row, _SESSION_ROW_WIDTH, session_hash)
    if membership is None:
        return None
    # What the store's load would have left: the data, and the session marked accessed.
    session._session_cache = data
    session.accessed = True
    return membership


# Session data decoded, by its signed text and what decoding it depends on. The text changes
# whenever the session is saved (at most once per SESSION_TOUCH_SECONDS in between), so a
# signed-in browser's requests decode the same text over and over: Django's signing (a key
# derivation and an HMAC per key, base64, JSON) was ~8% of a session request's CPU.
# Only data made of what a signed-in session holds is remembered (``services.session_data``,
# and what social-core leaves after a Google sign-in: the provider's name and ``next``): a
# session briefly holds a secret shown once (a new API key, a webhook's signing secret),
# which must not outlive it in this process's memory.
_decoded_by_text: dict[tuple[Any, ...], "_Remembered"] = {}
_DECODED_MAX = 4096
_REMEMBERED_KEYS = frozenset(
    {SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY, ORG_KEY, META_KEY, SEEN_KEY}
    | {"social_auth_last_login_backend", "next"}
)


def _decoded(session: Any, text: str) -> dict[str, Any]:
    """``session.decode(text)`` (the store's own: Django's signing, salt and serializer; {}
    for anything that does not verify), remembered per (text, store class, SECRET_KEY and
    its fallbacks, serializer) when it verified and holds nothing but ``_REMEMBERED_KEYS``.
    A copy each time: the request may change its session (``_Remembered.copied``). A text
    that did not verify is decoded (and logged by Django) every time."""
    key = (text, type(session), _conf().decoding)
    remembered = _decoded_by_text.get(key)
    if remembered is None:
        data = session.decode(text)
        if not data:
            return {}
        if not _REMEMBERED_KEYS.issuperset(data):
            return data  # decoded for this request alone
        if len(_decoded_by_text) >= _DECODED_MAX:
            _decoded_by_text.clear()
        remembered = _decoded_by_text[key] = _Remembered(data)
    return remembered.copied()


class _Remembered(dict[str, Any]):
    """Remembered session data, and how to copy it so that the copy shares nothing mutable
    with it: what ``copy.deepcopy`` gives, for what ``_REMEMBERED_KEYS`` hold (JSON:
    strings, numbers, None, and ``META_KEY``'s flat object), in a fraction of its time
    (~0.5 µs against ~4.7 µs): a dict copy, and a copy of each value that is not immutable,
    a shallow one for a flat object (decided once, when remembered); anything else nested
    is deep-copied."""

    __slots__ = ("_mutable",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self._mutable = [
            (name, type(value) is dict and all(type(v) in _IMMUTABLE for v in value.values()))
            for name, value in data.items()
            if type(value) not in _IMMUTABLE
        ]

    def copied(self) -> dict[str, Any]:
        copied = dict(self)
        for name, flat in self._mutable:
            copied[name] = copied[name].copy() if flat else copy.deepcopy(copied[name])
        return copied


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _memberships_of(user_id: Any) -> list[Membership]:
    if connection.vendor != "postgresql":
        with cross_org():
            return list(
                Membership.dangerously_unscoped.select_related("user", "org")
                .filter(user_id=user_id, status=Membership.Status.ACTIVE)
                .order_by("created_at", "pk")
            )
    with connection.cursor() as cursor:
        cursor.execute(_PERSON_MEMBERSHIPS, [user_id])
        return [membership_from_row(row) for row in cursor.fetchall()]


def _session_auth_hash(password: str) -> str:
    """``user.get_session_auth_hash()``: an HMAC of the password hash under SECRET_KEY,
    remembered per (password hash, SECRET_KEY), so a password change is a new entry."""
    return _session_auth_hash_for(password, _conf().secret_key)


@functools.lru_cache(maxsize=4096)
def _session_auth_hash_for(password: str, secret: str) -> str:
    return User(password=password).get_session_auth_hash()


def session_public_id(session_key: str) -> str:
    """The handle a session is listed and ended by; the key itself is the credential."""
    return f"bs_{key_digest(session_key)[:24]}"
