"""Every write of accounts: users, passwords, invitation acceptance, and the API's sign-in
sessions (login, one-time refresh with reuse detection, logout). Each is atomic, audited and
org-explicit. Sign-in failures that could tell an attacker which part was wrong all raise
the same ``InvalidCredentials``.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit_actions
from accounts.errors import InvalidCredentials, JwtDisabled
from accounts.managers import UserManager
from accounts.models import BrowserSession, RefreshToken, TokenFamily, User
from accounts.session_store import SessionStore
from accounts.signing_keys import new_seed
from accounts.tokens import REFRESH_PREFIX, access_token_lifetime_seconds, issue_access_token
from audit.actors import Actor, RequestContext
from audit.services import record
from orgs.models import Membership, Organization
from orgs.opaque_tokens import hash_opaque_token, new_opaque_token
from orgs.services import invitation_claim, invitation_lock

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
        user.set_password(new_password)
        user.save(update_fields=["password"])
        ended = revoke_all_families(user, reason="password_changed")
        sessions = end_browser_sessions(user)
        record(
            org_id=org_id,
            action=audit_actions.USER_PASSWORD_CHANGED,
            actor=actor,
            target=user,
            metadata={"families_revoked": ended, "sessions_ended": sessions},
        )
    return ended


def password_reset_finish(*, user: User, new_password: str, context: RequestContext) -> None:
    """Set the password of someone who proved control of their mailbox (a reset link),
    ending every sign-in and browser session they had. Atomic, audited (no password, no
    token). The caller validated the password (Django's SetPasswordForm)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        families = revoke_all_families(user, reason="password_reset")
        sessions = end_browser_sessions(user)
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

    Unknown email, wrong password, inactive user and "not a member" are indistinguishable:
    Django's ModelBackend hashes the password even for an unknown email, so timing is too.
    """
    user = ModelBackend().authenticate(None, username=email, password=password)
    org = Organization.objects.filter(slug=org_slug.strip().lower()).first()
    membership = None
    if user is not None and org is not None:
        membership = (
            Membership.objects.for_org(org)
            .select_related("user", "org")
            .filter(user=user, status=Membership.Status.ACTIVE)
            .first()
        )
    if membership is None:
        raise InvalidCredentials
    return open_session(membership=membership, context=context, via="password")


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
