"""Sign-in sessions for the API: login, one-time refresh with reuse detection, logout.

Every function here is a write: atomic, audited, and org-explicit. Failures that could
tell an attacker which part was wrong all raise the same ``InvalidCredentials``.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.utils import timezone

from accounts import audit_actions
from accounts.errors import InvalidCredentials, JwtDisabled
from accounts.models import RefreshToken, TokenFamily, User
from accounts.tokens import REFRESH_PREFIX, access_token_lifetime_seconds, issue_access_token
from audit.actors import Actor, RequestContext
from audit.services import record
from orgs.models import Membership, Organization
from orgs.opaque_tokens import hash_opaque_token, new_opaque_token


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
