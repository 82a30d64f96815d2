"""Browser sessions: sign in (rotating the key), sign out, list, end one, end all.

Every write is atomic and audited. A session is the person's, not one org's: the audit row
goes to the org they act in (``org_id``), which may be none for someone with no org yet.
The store is ``accounts.session_store``; a session is ended through the store so that its
cached copy in Redis goes with its row.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit_actions
from accounts.models import BrowserSession, TokenFamily, User
from accounts.services import end_browser_sessions, revoke_all_families
from accounts.session_auth import session_public_id
from accounts.session_store import META_KEY, ORG_KEY, SEEN_KEY, SessionStore
from audit.actors import Actor, RequestContext
from audit.services import record

PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"
BROWSER_PREFIX = "bs_"
API_PREFIX = "tf_"


@dataclass(frozen=True)
class SessionRow:
    id: str
    kind: str  # "browser" or "api"
    created_at: datetime | None
    last_seen_at: datetime | None
    ip: str | None
    user_agent: str
    current: bool
    org_id: int | None = None  # an API sign-in is in one org; a browser session in none


def session_data(
    *, user: User, org_id: int | None, context: RequestContext, backend: str = PASSWORD_BACKEND
) -> dict[str, Any]:
    """What a freshly signed-in session holds (beside what Django's login adds)."""
    now = int(time.time())
    return {
        SESSION_KEY: user._meta.pk.value_to_string(user),
        BACKEND_SESSION_KEY: backend,
        HASH_SESSION_KEY: user.get_session_auth_hash(),
        ORG_KEY: org_id,
        META_KEY: {"ip": context.ip, "ua": context.user_agent[:512], "created": now},
        SEEN_KEY: now,
    }


def browser_sign_in(
    *, request: HttpRequest, user: User, org_id: int | None, via: str, backend: str = ""
) -> str:
    """Sign ``user`` in on this request's session: a new session key (no fixation), the
    org they act in, and the device facts the sessions list shows. Atomic, audited as
    ``auth.session_started``. Returns the session's public id."""
    context = RequestContext.from_request(request)
    with transaction.atomic():
        django_login(request, user, backend=backend or PASSWORD_BACKEND)  # cycles the key
        data = session_data(
            user=user, org_id=org_id, context=context, backend=backend or PASSWORD_BACKEND
        )
        for key in (ORG_KEY, META_KEY, SEEN_KEY):
            request.session[key] = data[key]
        request.session.save()
        public_id = session_public_id(request.session.session_key or "")
        record(
            org_id=org_id,
            action=audit_actions.AUTH_SESSION_STARTED,
            actor=Actor.for_user(user, context=context),
            target=user,
            metadata={"via": via, "session_id": public_id},
        )
    return public_id


def browser_session_open(*, user: User, org_id: int | None, context: RequestContext) -> str:
    """A signed-in session created outside a request (tests, tools); returns its KEY.
    Audited as ``auth.session_started`` (via "direct")."""
    with transaction.atomic():
        store = SessionStore()
        for key, value in session_data(user=user, org_id=org_id, context=context).items():
            store[key] = value
        store.create()
        key = str(store.session_key)
        record(
            org_id=org_id,
            action=audit_actions.AUTH_SESSION_STARTED,
            actor=Actor.for_user(user, context=context),
            target=user,
            metadata={"via": "direct", "session_id": session_public_id(key)},
        )
    return key


def browser_sign_out(*, request: HttpRequest) -> None:
    """End this request's session (every subdomain shares it). Atomic, audited."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        django_logout(request)
        return
    with transaction.atomic():
        record(
            org_id=request.session.get(ORG_KEY),
            action=audit_actions.AUTH_SESSION_ENDED,
            actor=Actor.for_user(user, request),
            target=user,
            metadata={
                "session_id": session_public_id(request.session.session_key or ""),
                "reason": "sign_out",
            },
        )
        django_logout(request)  # flushes: the row and its cached copy are deleted


def browser_session_set_org(*, request: HttpRequest, org_id: int) -> None:
    """The org switcher: which org this session acts in when the host names none."""
    request.session[ORG_KEY] = org_id


def sessions_list(*, user: User, current_id: str | None) -> list[SessionRow]:
    """The person's live browser sessions and API sign-ins, newest first."""
    now = timezone.now()
    rows = [
        SessionRow(
            id=f"{BROWSER_PREFIX}{s.key_digest[:24]}",
            kind="browser",
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            ip=s.ip,
            user_agent=s.user_agent,
            current=f"{BROWSER_PREFIX}{s.key_digest[:24]}" == current_id,
        )
        for s in BrowserSession.objects.filter(user=user, expire_date__gt=now)
    ]
    # Spans orgs on purpose: a person's own sign-ins, keyed by the person.
    families = TokenFamily.dangerously_unscoped.filter(user=user, revoked_at__isnull=True)
    for family in families.order_by("-created_at"):
        rows.append(
            SessionRow(
                id=f"{API_PREFIX}{family.pk}",
                kind="api",
                created_at=family.created_at,
                last_seen_at=None,
                ip=None,
                user_agent="",
                current=f"{API_PREFIX}{family.pk}" == current_id,
                org_id=family.org_id,
            )
        )
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(rows, key=lambda r: r.created_at or epoch, reverse=True)


def session_end(*, user: User, session_id: str, actor: Actor, org_id: int | None) -> bool:
    """End one of ``user``'s sessions by its public id. Atomic, audited. False when the id
    names none of theirs (another person's session is not found, never ended)."""
    with transaction.atomic():
        if session_id.startswith(BROWSER_PREFIX):
            digest = session_id.removeprefix(BROWSER_PREFIX)
            if len(digest) != 24:
                return False
            row = BrowserSession.objects.filter(
                user=user, key_digest__startswith=digest, expire_date__gt=timezone.now()
            ).first()
            if row is None:
                return False
            SessionStore(session_key=row.session_key).delete()
            action = audit_actions.AUTH_SESSION_ENDED
        elif session_id.startswith(API_PREFIX) and session_id[3:].isdigit():
            updated = TokenFamily.dangerously_unscoped.filter(
                user=user, pk=int(session_id[3:]), revoked_at__isnull=True
            ).update(revoked_at=timezone.now(), revoked_reason="ended_by_user")
            if not updated:
                return False
            action = audit_actions.AUTH_LOGOUT
        else:
            return False
        record(
            org_id=org_id,
            action=action,
            actor=actor,
            target=user,
            metadata={"session_id": session_id, "reason": "ended_by_user"},
        )
    return True


def sessions_end_all(
    *, user: User, actor: Actor, org_id: int | None, keep_session_key: str | None = None
) -> int:
    """Sign out everywhere: every browser session (but ``keep_session_key``, for "sign out
    other devices") and every API sign-in family of ``user``. Atomic, audited once."""
    with transaction.atomic():
        sessions = end_browser_sessions(user, keep_session_key=keep_session_key)
        families = revoke_all_families(user, reason="logout_all")
        record(
            org_id=org_id,
            action=audit_actions.AUTH_LOGOUT_ALL,
            actor=actor,
            target=user,
            metadata={
                "sessions_ended": sessions,
                "families_revoked": families,
                "kept_current": keep_session_key is not None,
            },
        )
    return sessions + families
