"""Invitations: create (token emailed, only its digest stored), revoke, claim. All audited."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import record
from orgs import audit_actions
from orgs.context import OrgContext
from orgs.models import Invitation, Membership, Organization
from orgs.opaque_tokens import hash_opaque_token, new_opaque_token
from orgs.roles import Role
from orgs.services import check_may_grant, insert_membership

logger = logging.getLogger("tenantry.mail")

INVITATION_PREFIX = "inv_"


class InvitationInvalid(Exception):
    """Unknown, expired, revoked or already used: one answer for all."""


def invitation_create(
    *, org: Organization, actor: Actor, by: OrgContext | None, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role`` (no higher than the inviter's). Atomic, audited; the
    raw token is emailed to the invitee after commit, never stored or logged. It is also
    returned for trusted callers (commands, tests); the API does not pass it on."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": ["Invalid email"]}) from exc
    role = Role(role)
    check_may_grant(by=by, role=role)
    now = timezone.now()
    with transaction.atomic():
        members = Membership.objects.for_org(org).filter(user__email__iexact=email)
        if members.exists():
            raise ValidationError({"email": ["Already a member of this organization"]})
        pending = Invitation.objects.for_org(org).filter(
            email=email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        )
        if pending.exists():
            raise ValidationError({"email": ["An invitation for this email is already pending"]})
        raw, digest = new_opaque_token(INVITATION_PREFIX)
        invitation = Invitation.objects.create(
            org=org,
            email=email,
            role=role,
            token_hash=digest,
            invited_by_id=by.membership.user_id if by else None,
            expires_at=now + settings.INVITATION_LIFETIME,
        )
        record(
            org_id=org.pk,
            action=audit_actions.INVITATION_CREATED,
            actor=actor,
            target=invitation,
            target_label=email,
            metadata={"email": email, "role": role.value},
        )
        transaction.on_commit(lambda: _send_invitation(org, invitation, raw))
    return invitation, raw


def invitation_revoke(*, org: Organization, actor: Actor, invitation: Invitation) -> None:
    """Revoke a pending invitation. Atomic, audited; revoking twice changes nothing."""
    with transaction.atomic():
        invitation = Invitation.objects.for_org(org).select_for_update().get(pk=invitation.pk)
        if invitation.status_at(timezone.now()) != "pending":
            raise ValidationError("Only a pending invitation can be revoked")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record(
            org_id=org.pk,
            action=audit_actions.INVITATION_REVOKED,
            actor=actor,
            target=invitation,
            target_label=invitation.email,
        )


def invitation_resend(
    *, org: Organization, actor: Actor, by: OrgContext | None, invitation: Invitation
) -> Invitation:
    """Email a pending invitation again with a NEW token and a fresh expiry; the old link
    stops working. The resender must be allowed to grant its role. Atomic, audited."""
    check_may_grant(by=by, role=Role(invitation.role))
    now = timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.for_org(org).select_for_update().get(pk=invitation.pk)
        if invitation.status_at(now) != "pending":
            raise ValidationError("Only a pending invitation can be sent again")
        raw, digest = new_opaque_token(INVITATION_PREFIX)
        invitation.token_hash = digest
        invitation.expires_at = now + settings.INVITATION_LIFETIME
        invitation.save(update_fields=["token_hash", "expires_at"])
        record(
            org_id=org.pk,
            action=audit_actions.INVITATION_RESENT,
            actor=actor,
            target=invitation,
            target_label=invitation.email,
            metadata={"email": invitation.email, "role": invitation.role},
        )
        transaction.on_commit(lambda: _send_invitation(org, invitation, raw))
    return invitation


def invitation_lock(raw_token: str) -> Invitation:
    """The pending invitation behind a token (the token names its org), row-locked until
    the caller's transaction ends so it is claimed once; else InvitationInvalid."""
    invitation = (
        Invitation.dangerously_unscoped.select_for_update(of=("self",))
        .select_related("org")
        .filter(token_hash=hash_opaque_token(raw_token))
        .first()
    )
    if invitation is None or invitation.status_at(timezone.now()) != "pending":
        raise InvitationInvalid
    return invitation


def invitation_claim(*, invitation: Invitation, user: Any, actor: Actor) -> Membership:
    """Join the org of an invitation the caller locked (``invitation_lock``, same
    transaction) as the invited email's user. Audited."""
    now = timezone.now()
    with transaction.atomic():
        if invitation.email != user.email.lower():
            raise InvitationInvalid
        org = invitation.org
        membership = insert_membership(org=org, user=user, role=invitation.role, field="token")
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        record(
            org_id=org.pk,
            action=audit_actions.INVITATION_ACCEPTED,
            actor=actor,
            target=invitation,
            target_label=invitation.email,
            metadata={"role": invitation.role, "membership_id": membership.pk},
        )
    return membership


def _send_invitation(org: Organization, invitation: Invitation, raw_token: str) -> None:
    """Runs after the invitation committed: a mail failure must not turn that write into a
    500 (the inviter would retry and hit "already pending"). It is logged, without the
    token, and the invitation can be revoked and sent again."""
    try:
        _mail_invitation(org, invitation, raw_token)
    except Exception:
        logger.exception("Invitation %s: the mail could not be sent", invitation.pk)


def _mail_invitation(org: Organization, invitation: Invitation, raw_token: str) -> None:
    link = f"{settings.PORTAL_URL}/invitations/{raw_token}/"
    send_mail(
        subject=f"You are invited to {org.name} on Tenantry",
        message=(
            f"You have been invited to join {org.name} as {invitation.role}.\n\n"
            f"Accept the invitation: {link}\n\n"
            f"Or with the API: POST /api/invitations/accept with token {raw_token}\n"
            f"The invitation expires at {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitations_claim_for_verified_email(*, user: Any, actor: Actor) -> list[Membership]:
    """Accept every pending invitation to ``user``'s email, for a person whose email the
    caller has VERIFIED (a Google sign-in with ``email_verified``): the provider proved the
    mailbox, as the emailed token would. Atomic; each audited as ``invitation.accepted``.

    Spans orgs on purpose: one person's invitations, keyed by their email."""
    now = timezone.now()
    joined = []
    with transaction.atomic():
        pending = (
            Invitation.dangerously_unscoped.select_for_update(of=("self",))
            .select_related("org")
            .filter(
                email=user.email.lower(),
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            )
            .order_by("created_at")
        )
        for invitation in pending:
            if Membership.objects.for_org(invitation.org).filter(user=user).exists():
                continue
            joined.append(invitation_claim(invitation=invitation, user=user, actor=actor))
    return joined


def invitation_peek(raw_token: str) -> Invitation | None:
    """The pending invitation behind a token, read without a lock (to show the accept page);
    None for unknown, expired, revoked or used ones alike."""
    invitation = (
        Invitation.dangerously_unscoped.select_related("org")
        .filter(token_hash=hash_opaque_token(raw_token))
        .first()
    )
    if invitation is None or invitation.status_at(timezone.now()) != "pending":
        return None
    return invitation
