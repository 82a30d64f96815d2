"""Every write of accounts: users, passwords, invitation acceptance, the API's sign-in
sessions (login, one-time refresh with reuse detection, logout) and browser sessions (sign
in, sign out, end one, end all). Each is atomic, audited and org-explicit. Sign-in failures
that could tell an attacker which part was wrong all raise the same ``InvalidCredentials``.
"""

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit_actions, mfa
from accounts.errors import InvalidCredentials, JwtDisabled
from accounts.managers import UserManager
from accounts.models import BrowserSession, MfaChallenge, RefreshToken, TokenFamily, User
from accounts.selectors import API_PREFIX, BROWSER_PREFIX
from accounts.session_auth import session_public_id
from accounts.session_store import META_KEY, ORG_KEY, SEEN_KEY, SessionStore
from accounts.signing_keys import new_seed
from accounts.tokens import REFRESH_PREFIX, access_token_lifetime_seconds, issue_access_token
from audit.actors import Actor, RequestContext
from audit.services import record
from orgs.models import Membership, Organization
from orgs.opaque_tokens import hash_opaque_token, new_opaque_token
from orgs.services import InvitationInvalid, invitation_claim, invitation_lock
from tenancy.rls import cross_org

PASSWORD_FIELDS = {"password", "password1", "password2"}


def user_create(
    *, actor: Actor, email: str, password: str | None, name: str = "", org_id: int | None = None
) -> User:
    """Create a user (``password=None`` for a Google-only account). Atomic, audited.

    Raises ValidationError for a malformed or taken email or a weak password; the password
    itself never reaches the audit row.
    """
    email = UserManager.normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": ["Invalid email"]}) from exc
    if password is not None:
        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():  # the unique email index decides, also under races
                user = User.objects.create_user(email=email, password=password, name=name)
        except IntegrityError as exc:
            raise ValidationError({"email": ["A user with this email already exists"]}) from exc
        record(org_id=org_id, action=audit_actions.USER_CREATED, actor=actor, target=user)
    return user


def password_change(
    *, user: User, current_password: str, new_password: str, actor: Actor, org_id: int | None
) -> int:
    """Set a new password and end every sign-in of the user, everywhere. Atomic, audited
    once (never with either password). Returns how many sign-ins were ended."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": ["Incorrect password"]})
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    with transaction.atomic():
        ended, sessions = _set_password_ending_sign_ins(user, new_password, "password_changed")
        record(
            org_id=org_id,
            action=audit_actions.USER_PASSWORD_CHANGED,
            actor=actor,
            target=user,
            metadata={"families_revoked": ended, "sessions_ended": sessions},
        )
    return ended


def _set_password_ending_sign_ins(user: User, password: str, reason: str) -> tuple[int, int]:
    """Set the password and end every API sign-in and browser session of ``user`` (inside
    the caller's transaction); returns how many of each ended."""
    user.set_password(password)
    user.save(update_fields=["password"])
    return revoke_all_families(user, reason=reason), end_browser_sessions(user)


def password_reset_finish(*, user: User, new_password: str, context: RequestContext) -> None:
    """Set the password of someone who proved control of their mailbox (a reset link),
    ending every sign-in and browser session they had. Atomic, audited (no password, no
    token). The caller validated the password (Django's SetPasswordForm)."""
    with transaction.atomic():
        families, sessions = _set_password_ending_sign_ins(user, new_password, "password_reset")
        record(
            org_id=None,
            action=audit_actions.USER_PASSWORD_RESET,
            actor=Actor.for_user(user, context=context),
            target=user,
            metadata={"families_revoked": families, "sessions_ended": sessions},
        )


def user_save_by_staff(*, actor: Actor, user: User, created: bool, changed: list[str]) -> User:
    """Save a user a staff member added or edited in the Django admin (whose form
    validated and, for a new user, hashed the password). Atomic, audited as user.created or
    user.updated with the changed field names, never a password."""
    with transaction.atomic():
        user.save()
        record(
            org_id=None,
            action=audit_actions.USER_CREATED if created else audit_actions.USER_UPDATED,
            actor=actor,
            target=user,
            metadata={"changed": sorted(set(changed) - PASSWORD_FIELDS), "via": "admin"},
        )
    return user


def user_delete_by_staff(*, actor: Actor, user: User) -> None:
    """Delete a user from the Django admin. Atomic, audited (the row outlives the user)."""
    with transaction.atomic():
        record(
            org_id=None,
            action=audit_actions.USER_DELETED,
            actor=actor,
            target=user,
            metadata={"via": "admin"},
        )
        user.delete()


def user_password_set_by_staff(*, actor: Actor, user: User) -> int:
    """Store the password a staff member set in the Django admin (already hashed onto
    ``user`` by Django's form, usable or not) and, like any password change, end every API
    sign-in of the user. Atomic, audited once. Returns how many sign-ins were ended."""
    with transaction.atomic():
        user.save(update_fields=["password"])
        ended = revoke_all_families(user, reason="password_set_by_staff")
        record(
            org_id=None,
            action=audit_actions.USER_PASSWORD_CHANGED,
            actor=actor,
            target=user,
            metadata={"via": "admin", "families_revoked": ended},
        )
    return ended


def invitation_accept(
    *, raw_token: str, password: str, name: str, context: RequestContext
) -> Membership:
    """Accept an invitation as its email's user, creating the account if there is none.

    The token proves control of the mailbox; an existing account must also prove itself
    with its password. Atomic; audited as invitation.accepted (plus user.created when the
    account is new).
    """
    with transaction.atomic():
        invitation = invitation_lock(raw_token)
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            user = user_create(
                actor=Actor.system("invitation"),
                email=invitation.email,
                password=password,
                name=name,
                org_id=invitation.org_id,
            )
        elif not user.is_active or not user.check_password(password):
            raise InvalidCredentials
        return invitation_claim(
            invitation=invitation, user=user, actor=Actor.for_user(user, context=context)
        )


def jwt_key_generate(*, actor: Actor) -> tuple[str, str]:
    """A new JWT signing key ``(kid, seed)`` for the operator to deploy. Audited (the kid
    only, never the seed); nothing is stored: the deployment's settings hold the keys."""
    kid = "j" + timezone.now().strftime("%Y%m%d") + secrets.token_hex(2)
    with transaction.atomic():
        record(
            org_id=None,
            action=audit_actions.JWT_KEY_GENERATED,
            actor=actor,
            target_type="jwt_key",
            target_label=kid,
            metadata={"kid": kid},
        )
    return kid, new_seed()


def end_browser_sessions(user: User, *, keep_session_key: str | None = None) -> int:
    """Inside the caller's transaction: delete ``user``'s browser sessions (row and cached
    copy), but ``keep_session_key``. Returns how many."""
    keys = list(
        BrowserSession.objects.filter(user=user)
        .exclude(session_key=keep_session_key or "")
        .values_list("session_key", flat=True)
    )
    for key in keys:
        SessionStore(session_key=key).delete()
    return len(keys)


# --- The API's sign-in sessions: token families -------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    membership: Membership


def password_login(
    *, email: str, password: str, org_slug: str, context: RequestContext
) -> TokenPair:
    """Check the password and the membership, then open a token family. Audited.

    Unknown email, wrong password, inactive user, "not a member" and an org that switched
    JWT sign-in off are indistinguishable: Django's ModelBackend hashes the password even for
    an unknown email, and the membership is looked up whether or not the password was right,
    so the work (one hash, the same queries) and the answer are the same. A JWT-disabled org
    answering otherwise for the right password would confirm a guess (the login oracle).
    """
    user = ModelBackend().authenticate(None, username=email, password=password)
    org = Organization.objects.filter(slug=org_slug.strip().lower()).first()
    membership = None
    if org is not None:
        # With no user, the same query matching nothing (user IS NULL): the same work.
        who = models.Q(user=user) if user is not None else models.Q(user__isnull=True)
        membership = (
            Membership.objects.for_org(org)
            .select_related("user", "org")
            .filter(who, status=Membership.Status.ACTIVE)
            .first()
        )
    if membership is None or not membership.org.jwt_enabled:
        raise InvalidCredentials
    second_factor_gate(user=membership.user, login_org=membership.org, context=context)
    return open_session(membership=membership, context=context, via="password")


def second_factor_gate(
    *, user: User, login_org: Organization | None, context: RequestContext, channel: str = "api"
) -> None:
    """After a right password: raise ``mfa.MfaRequired`` (with a fresh challenge token) when
    the person has a second factor, or ``mfa.MfaEnrollmentRequired`` when the org they sign
    in to (the API) requires one they lack. Google sign-in never comes here."""
    if mfa.has_second_factor(user):
        raise mfa.MfaRequired(
            mfa.challenge_open(user=user, channel=channel, login_org=login_org, context=context)
        )
    if login_org is not None and login_org.mfa_required:
        raise mfa.MfaEnrollmentRequired


def mfa_login(*, raw_token: str, code: str, context: RequestContext) -> TokenPair:
    """The API login's second step (``POST /api/auth/mfa``): a code completes the challenge
    the password step issued, and the token pair opens in the same transaction (audited as
    ``auth.login`` via "password+totp" or "password+recovery_code"). InvalidCredentials for
    a dead token or a membership gone meanwhile; ``mfa.InvalidCode`` for a wrong code."""

    def _open(redeemed: mfa.Redeemed) -> TokenPair:
        challenge = redeemed.challenge
        org = challenge.login_org
        membership = None
        if org is not None:
            membership = (
                Membership.objects.for_org(org)
                .select_related("user", "org")
                .filter(user=challenge.user, status=Membership.Status.ACTIVE)
                .first()
            )
        if membership is None:
            raise InvalidCredentials
        return open_session(
            membership=membership, context=context, via=f"password+{redeemed.method}"
        )

    pair, _ = mfa.challenge_redeem(
        raw_token=raw_token, code=code, channel="api", context=context, then=_open
    )
    return pair


def open_session(*, membership: Membership, context: RequestContext, via: str) -> TokenPair:
    """Start a token family for an authenticated member. Atomic, audited as auth.login."""
    if not membership.org.jwt_enabled:
        raise JwtDisabled
    with transaction.atomic():
        family = TokenFamily.objects.create(
            org=membership.org, user=membership.user, membership=membership
        )
        raw, digest = new_opaque_token(REFRESH_PREFIX)
        RefreshToken.objects.create(org=membership.org, family=family, token_hash=digest)
        record(
            org_id=membership.org_id,
            action=audit_actions.AUTH_LOGIN,
            actor=Actor.for_user(membership.user, context=context),
            target=membership.user,
            metadata={"via": via, "family_id": family.pk},
        )
    return _pair(membership, family, raw)


def refresh(*, raw_token: str, context: RequestContext) -> TokenPair:
    """Exchange a refresh token for a new pair. One-time, atomic, audited.

    The token row is locked, so of concurrent exchanges of one token exactly one wins; the
    others see it spent. A spent token presented again within
    ``REFRESH_TOKEN_REUSE_LEEWAY`` of its use (Auth0's "reuse interval") is refused without
    consequence: that is a client racing itself (two tabs, a retried request), and the winner
    must keep a working pair. Presented later, it is taken as theft: the whole family is
    revoked (the revocation commits even though the caller gets a 401).
    """
    now = timezone.now()
    replayed = False
    with transaction.atomic():
        # Lock the token and its family: waiters then re-read both at their latest, so of
        # many replays only the first revokes (and audits) the family.
        token = (
            RefreshToken.dangerously_unscoped.select_for_update(of=("self", "family"))
            .select_related("family__membership__user", "family__membership__org")
            .filter(token_hash=hash_opaque_token(raw_token))
            .first()
        )
        if token is None:
            raise InvalidCredentials
        family = token.family
        membership = family.membership
        if token.used_at is not None:
            replayed = True
            # Read the clock after the lock: a racer that waited on the winner's lock is
            # within the leeway however long it waited.
            racing = timezone.now() - token.used_at <= settings.REFRESH_TOKEN_REUSE_LEEWAY
            if family.revoked_at is None and not racing:
                _revoke(family, now=now, reason="reuse_detected")
                record(
                    org_id=family.org_id,
                    action=audit_actions.AUTH_REFRESH_REUSE_DETECTED,
                    actor=Actor.for_user(membership.user, context=context),
                    target=membership.user,
                    metadata={"family_id": family.pk},
                )
        elif not _usable(token, family, membership, now):
            raise InvalidCredentials
        elif not membership.org.jwt_enabled:
            raise JwtDisabled  # before the token is spent: it works again if JWT comes back
        else:
            token.used_at = now
            token.save(update_fields=["used_at"])
            raw, digest = new_opaque_token(REFRESH_PREFIX)
            RefreshToken.objects.create(org_id=family.org_id, family=family, token_hash=digest)
            record(
                org_id=family.org_id,
                action=audit_actions.AUTH_TOKEN_REFRESHED,
                actor=Actor.for_user(membership.user, context=context),
                target=membership.user,
                metadata={"family_id": family.pk},
            )
    if replayed:
        raise InvalidCredentials
    return _pair(membership, family, raw)


def logout(*, membership: Membership, family_id: int, actor: Actor) -> None:
    """End one sign-in: its refresh tokens and access tokens stop working. Audited."""
    with transaction.atomic():
        family = (
            TokenFamily.objects.for_org(membership.org)
            .select_for_update()
            .filter(pk=family_id, user=membership.user, revoked_at__isnull=True)
            .first()
        )
        if family is None:
            return  # already ended: logging out twice is not an error
        _revoke(family, now=timezone.now(), reason="logout")
        record(
            org_id=membership.org_id,
            action=audit_actions.AUTH_LOGOUT,
            actor=actor,
            target=membership.user,
            metadata={"family_id": family.pk},
        )


def logout_everywhere(*, user: User, org_id: int | None, actor: Actor, reason: str) -> int:
    """Revoke every live family of ``user`` in every org. Audited once; returns the count.

    Spans orgs on purpose (the user's sign-ins are theirs, not one tenant's): the only
    unscoped write here, and it is keyed by the user.
    """
    with transaction.atomic():
        count = revoke_all_families(user, reason=reason)
        record(
            org_id=org_id,
            action=audit_actions.AUTH_LOGOUT_ALL,
            actor=actor,
            target=user,
            metadata={"families_revoked": count, "reason": reason},
        )
    return count


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def revoke_all_families(user: User, *, reason: str) -> int:
    """Inside the caller's transaction: end every live sign-in of ``user``."""
    return TokenFamily.dangerously_unscoped.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


def _revoke(family: TokenFamily, *, now: datetime, reason: str) -> None:
    family.revoked_at = now
    family.revoked_reason = reason
    family.save(update_fields=["revoked_at", "revoked_reason"])


def _usable(
    token: RefreshToken, family: TokenFamily, membership: Membership, now: datetime
) -> bool:
    # Idle lifetime: the newest token of a family is minted at its last refresh, so its
    # age is the family's idle time; no separate "last used" column to keep up to date.
    return (
        family.revoked_at is None
        and now - family.created_at < settings.REFRESH_TOKEN_ABSOLUTE_LIFETIME
        and now - token.created_at < settings.REFRESH_TOKEN_IDLE_LIFETIME
        and membership.is_active
        and membership.user.is_active
    )


def _pair(membership: Membership, family: TokenFamily, raw_refresh: str) -> TokenPair:
    access = issue_access_token(
        user_id=membership.user_id, org_id=membership.org_id, family_id=family.pk
    )
    return TokenPair(
        access_token=access,
        refresh_token=raw_refresh,
        expires_in=access_token_lifetime_seconds(),
        membership=membership,
    )


# --- Browser sessions: sign in (rotating the key), sign out, end one, end all ------------
# A session is the person's, not one org's: the audit row goes to the org they act in
# (``org_id``), which may be none. A session is ended through the store so that its cached
# copy in Redis goes with its row.

PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"


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


def browser_session_forget_if_ended(request: HttpRequest) -> None:
    """After sessions were ended: when this request's own session was one of them, forget it
    here too (Django's flush: emptied, no key, its cookie deleted). Otherwise the response
    would save it (the sliding touch, or any change), and saving a session whose row is gone
    fails the request (SessionInterrupted: 400) instead of answering what was done."""
    session = getattr(request, "session", None)  # (none on a cookieless API request)
    if session is None or not session.session_key:
        return
    if not BrowserSession.objects.filter(session_key=session.session_key).exists():
        session.flush()


def browser_session_set_org(*, request: HttpRequest, org_id: int) -> None:
    """The org switcher: which org this session acts in when the host names none."""
    request.session[ORG_KEY] = org_id


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


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def expired_sign_ins_flush(*, actor: Actor, now: datetime | None = None) -> dict[str, int]:
    """Delete what can no longer sign anybody in: API sign-ins (token families, with their
    refresh tokens) revoked more than a day ago or past ``REFRESH_TOKEN_ABSOLUTE_LIFETIME``,
    expired browser sessions, and second-factor challenges expired or used. Atomic, audited
    once as ``auth.expired_flushed`` with the counts; idempotent (a second run deletes
    nothing and records zeros)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Spans orgs on purpose: a sweep over every org's dead sign-ins.
        dead = TokenFamily.dangerously_unscoped.filter(
            models.Q(revoked_at__lt=now - timedelta(days=1))
            | models.Q(created_at__lt=now - settings.REFRESH_TOKEN_ABSOLUTE_LIFETIME)
        )
        _, by_model = dead.delete()
        sessions, _ = BrowserSession.objects.filter(expire_date__lt=now).delete()
        # Half-finished sign-ins that can no longer finish (expired or used).
        challenges, _ = MfaChallenge.objects.filter(
            models.Q(expires_at__lt=now) | models.Q(used_at__isnull=False)
        ).delete()
        counts = {
            "sign_ins": by_model.get(TokenFamily._meta.label, 0),
            "refresh_tokens": by_model.get(RefreshToken._meta.label, 0),
            "browser_sessions": sessions,
            "mfa_challenges": challenges,
        }
        record(org_id=None, action=audit_actions.AUTH_EXPIRED_FLUSHED, actor=actor, metadata=counts)
    return counts


def invitation_accept_signed_in(
    *, raw_token: str, user: User, context: RequestContext
) -> Membership:
    """Accept an invitation as the signed-in ``user``, whose email must be the invited one
    (a signed-in person with another email is refused, never joined). Atomic, audited as
    invitation.accepted."""
    with transaction.atomic():
        invitation = invitation_lock(raw_token)
        if invitation.email != user.email.lower():
            raise InvitationInvalid
        return invitation_claim(
            invitation=invitation, user=user, actor=Actor.for_user(user, context=context)
        )
