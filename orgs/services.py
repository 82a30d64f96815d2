"""Every write to organizations, memberships and invitations. Each is atomic and audited.

``by`` is the acting credential (member, role and, for an API key, its scopes) when a
person acts through the API or portal; ``None`` means trusted system code (management
commands, sign-up), which is not bound by role rules.
"""

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email, validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audited_update, record
from hooks.services import hooks_consult
from orgs import audit_actions
from orgs.context import OrgContext
from orgs.errors import Conflict
from orgs.fields import has_control_characters
from orgs.hosts import RESERVED_SUBDOMAINS
from orgs.models import Invitation, Membership, Organization
from orgs.opaque_tokens import hash_opaque_token, new_opaque_token
from orgs.roles import Role
from tenancy.rls import cross_org, org_transaction


def org_create(*, actor: Actor, slug: str, name: str, owner: Any) -> Organization:
    """Create an org with ``owner`` as its first owner. Atomic, audited as one event."""
    slug = slug.strip().lower()
    name = name.strip()
    _validate_org_fields(slug=slug, name=name)
    with transaction.atomic():
        if Organization.objects.filter(slug__iexact=slug).exists():
            raise Conflict("An organization with this slug already exists", field="slug")
        try:
            with transaction.atomic():
                org = Organization.objects.create(slug=slug, name=name)
        except IntegrityError as exc:  # a concurrent create won the race for the slug
            raise Conflict("An organization with this slug already exists", field="slug") from exc
        # The owner's membership is part of this one write: one event, naming the owner.
        Membership.objects.create(org=org, user=owner, role=Role.OWNER)
        record(
            org_id=org.pk,
            action=audit_actions.ORG_CREATED,
            actor=actor,
            target=org,
            metadata={"slug": org.slug, "name": org.name, "owner_id": owner.pk},
        )
    return org


def org_update(
    *,
    org: Organization,
    actor: Actor,
    by: OrgContext | None = None,
    name: str | None = None,
    jwt_enabled: bool | None = None,
) -> Organization:
    """Change the org's name (``org:write``, which the caller checked) or its JWT switch,
    a security setting: owners only (``security:write``; ``by=None``: trusted system code).
    A request naming the switch without that right changes nothing. Atomic, audited with
    before/after."""
    if jwt_enabled is not None:
        check_may_change_security(by=by, what="switch JWT sign-in on or off")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name.strip()
        if errors := _name_errors(changes["name"]):
            raise ValidationError(errors)
    if jwt_enabled is not None:
        changes["jwt_enabled"] = jwt_enabled
    return audited_update(
        rows=Organization.objects.all(),
        pk=org.pk,
        changes=lambda _org: changes,
        describe=lambda o: {"name": o.name, "jwt_enabled": o.jwt_enabled},
        action=audit_actions.ORG_UPDATED,
        actor=actor,
        org_id=lambda o: o.pk,
    )


def membership_add(
    *, org: Organization, actor: Actor, user: object, role: str, by: OrgContext | None
) -> Membership:
    """Add ``user`` to ``org`` with ``role``. Atomic, audited; refuses duplicates."""
    role = Role(role)
    check_may_grant(by=by, role=role)
    with transaction.atomic():
        membership = insert_membership(org=org, user=user, role=role, field="user")
        record(
            org_id=org.pk,
            action=audit_actions.MEMBER_ADDED,
            actor=actor,
            target=membership,
            target_label=str(getattr(user, "email", user)),
            metadata={"role": role.value},
        )
    return membership


def membership_set_role(
    *, org: Organization, actor: Actor, membership: Membership, role: str, by: OrgContext | None
) -> Membership:
    """Change a member's role. Nobody grants above their own role or touches a higher one;
    the last owner cannot be demoted. Atomic, audited with before/after.

    A real change is first put to the org's pre-write hooks (``member.role_change``),
    outside the transaction; a refusal raises ``HookDenied`` and nothing is written. So it
    is called outside any transaction (a view: ``outside_the_request_transaction()``); its
    own blocks are ``org_transaction``s of ``org`` (row-level security). A member whose
    role changed while the hook decided is refused (``Conflict``, 409: try again); so is
    an acting member removed or demoted meanwhile (``relock_acting``: 403)."""
    role = Role(role)
    # The role the decision is made on (whether to ask a hook, and the role_before it is
    # shown); the write below refuses if the locked row no longer has it.
    shown = membership.role
    if shown != role:
        # What the rules refuse anyway is refused before a hook is asked (and again below,
        # under the lock, where it counts).
        _check_may_manage(by=by, target=membership)
        check_may_grant(by=by, role=role)
        hooks_consult(
            org=org,
            actor=actor,
            action="member.role_change",
            proposed={
                "membership_id": membership.pk,
                "user_id": membership.user_id,
                "email": membership.user.email,
                "role_before": membership.role,
                "role_after": role.value,
            },
        )
    with org_transaction(org.pk):
        # Both rows locked in primary-key order, so two members changing each other's
        # roles at the same moment wait for each other instead of deadlocking.
        if by is not None and by.membership.pk > membership.pk:
            membership = _lock(org, membership)
            by = relock_acting(org, by)
        else:
            by = relock_acting(org, by)
            membership = _lock(org, membership)
        if membership.role != shown:
            # Changed during the hook's wait: the approval (or the decision to skip the
            # hook) was about another role than the one now there.
            raise Conflict("This member's role changed while being approved; try again")
        _check_may_manage(by=by, target=membership)
        check_may_grant(by=by, role=role)
        before = membership.role
        if before == role:
            return membership
        if before == Role.OWNER:
            _check_not_last_owner(org, membership)
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            org_id=org.pk,
            action=audit_actions.MEMBER_ROLE_CHANGED,
            actor=actor,
            target=membership,
            target_label=membership.user.email,
            metadata={"before": {"role": before}, "after": {"role": role.value}},
        )
    return membership


def membership_remove(
    *, org: Organization, actor: Actor, membership: Membership, by: OrgContext | None
) -> None:
    """Remove a member. The last owner stays. Atomic, audited."""
    with transaction.atomic():
        membership = _lock(org, membership)
        _check_may_manage(by=by, target=membership)
        if membership.role == Role.OWNER:
            _check_not_last_owner(org, membership)
        record(
            org_id=org.pk,
            action=audit_actions.MEMBER_REMOVED,
            actor=actor,
            target=membership,
            target_label=membership.user.email,
            metadata={"role": membership.role, "user_id": membership.user_id},
        )
        membership.delete()


def insert_membership(*, org: Organization, user: Any, role: str, field: str) -> Membership:
    """Insert a membership inside the caller's transaction. The unique (org, user) index
    decides, so two concurrent joins give one member and one 422, never a 500."""
    try:
        with transaction.atomic():
            return Membership.objects.create(org=org, user=user, role=role)
    except IntegrityError as exc:
        raise ValidationError({field: ["Already a member of this organization"]}) from exc


def _validate_org_fields(*, slug: str, name: str) -> None:
    errors: dict[str, list[str]] = {}
    try:
        validate_slug(slug)
    except ValidationError:
        errors["slug"] = ["Use lowercase letters, digits, hyphens and underscores"]
    if not 2 <= len(slug) <= 64:
        errors.setdefault("slug", []).append("Must be 2 to 64 characters")
    if slug in RESERVED_SUBDOMAINS:  # <slug>.<base> must not shadow the deployment's hosts
        errors.setdefault("slug", []).append("This name is reserved")
    errors.update(_name_errors(name))
    if errors:
        raise ValidationError(errors)


def _name_errors(name: str) -> dict[str, list[str]]:
    if not name or len(name) > 200:
        return {"name": ["Must be 1 to 200 characters"]}
    if has_control_characters(name):  # CR/LF in a name would reach mail headers
        return {"name": ["Must not contain control characters"]}
    return {}


def relock_acting(org: Organization, by: OrgContext | None) -> OrgContext | None:
    """Inside a write's transaction: ``by`` with its membership locked and re-read, so a
    write that waited on a pre-write hook judges the acting member's CURRENT role, and the
    member cannot be removed before the write commits. A member removed (or no longer
    active) meanwhile is refused (``PermissionDenied``, 403). ``None`` stays ``None``."""
    if by is None:
        return None
    locked = lock_active_membership(org, by.membership.pk)
    if locked is None:
        raise PermissionDenied("Your membership ended while this was being approved")
    locked.org = by.membership.org
    locked.user = by.membership.user
    return replace(by, membership=locked)


def lock_active_membership(org: Organization, pk: int) -> Membership | None:
    """Inside a write's transaction: the org's active membership ``pk``, locked until the
    transaction ends (so it cannot be removed before the write commits); None when it is
    gone or no longer active. What a write that waited on a pre-write hook re-reads."""
    return (
        Membership.objects.for_org(org)
        .select_for_update()
        .filter(pk=pk, status=Membership.Status.ACTIVE)
        .first()
    )


def _lock(org: Organization, membership: Membership) -> Membership:
    return (
        Membership.objects.for_org(org)
        .select_for_update()
        .select_related("user")
        .get(pk=membership.pk)
    )


def check_may_change_security(*, by: OrgContext | None, what: str) -> None:
    """Security settings (the JWT switch, email domains, the API-key policy...) are the
    owners' (``security:write``); admins read them. ``by=None``: trusted system code."""
    if by is not None and not by.allows("security:write"):
        raise PermissionDenied(f"Only an owner can {what}")


def org_security_update(
    *,
    org: Organization,
    actor: Actor,
    by: OrgContext | None,
    jwt_enabled: bool | None = None,
    allowed_email_domains: list[str] | None = None,
    default_role: str | None = None,
    mfa_required: bool | None = None,
) -> Organization:
    """Change the org's sign-in security settings: the JWT switch, who may join by verified
    email domain (and as which role), and whether password sign-in requires a second factor.
    Owners only. Atomic: all or nothing, each setting audited as its own service does
    (``org.updated``, ``org.email_domains_changed``, ``org.mfa_requirement_changed``)."""
    check_may_change_security(by=by, what="change the organization's security settings")
    with transaction.atomic():
        if jwt_enabled is not None:
            org = org_update(org=org, actor=actor, by=by, jwt_enabled=jwt_enabled)
        if mfa_required is not None:
            org = org_set_mfa_required(org=org, actor=actor, by=by, required=mfa_required)
        if allowed_email_domains is not None or default_role is not None:
            org = org_set_email_domains(
                org=org,
                actor=actor,
                by=by,
                domains=(
                    org.allowed_email_domains
                    if allowed_email_domains is None
                    else allowed_email_domains
                ),
                role=default_role or org.default_role,
            )
    return org


def check_may_grant(*, by: OrgContext | None, role: Role) -> None:
    if by is None:
        return
    # by.allows: the role's actions narrowed by an API key's scopes, not the role alone.
    if role == Role.OWNER and not by.allows("owner:write"):
        raise PermissionDenied("Only an owner can grant the owner role")
    if not Role(by.role).outranks_or_equals(role):
        raise PermissionDenied("You cannot grant a role above your own")


def _check_may_manage(*, by: OrgContext | None, target: Membership) -> None:
    if by is None or by.membership.pk == target.pk:
        return
    if not Role(by.role).outranks_or_equals(Role(target.role)):
        raise PermissionDenied("You cannot change a member whose role is above your own")
    if target.role == Role.OWNER and not by.allows("owner:write"):
        raise PermissionDenied("Only an owner can change another owner")


def _check_not_last_owner(org: Organization, membership: Membership) -> None:
    # Lock every owner row so two concurrent demotions cannot both pass this check.
    owners = list(
        Membership.objects.for_org(org)
        .select_for_update()
        .filter(role=Role.OWNER, status=Membership.Status.ACTIVE)
        .values_list("pk", flat=True)
    )
    if [pk for pk in owners if pk != membership.pk] == []:
        raise ValidationError("An organization must keep at least one owner")


def org_set_email_domains(
    *, org: Organization, actor: Actor, by: OrgContext | None, domains: list[str], role: str
) -> Organization:
    """Set the email domains whose verified addresses may join ``org`` (and as which role).
    Owners only (``security:write``; ``by=None``: trusted system code). Atomic, audited
    with before/after."""
    check_may_change_security(by=by, what="change who may join by email domain")
    cleaned = sorted({d.strip().lower().lstrip("@") for d in domains if d.strip()})
    bad = [d for d in cleaned if "." not in d or "@" in d or " " in d or len(d) > 253]
    if bad:
        raise ValidationError({"allowed_email_domains": [f"Not a domain: {', '.join(bad)}"]})
    role = Role(role)
    if role == Role.OWNER:
        raise ValidationError({"default_role": ["Joining by domain cannot make an owner"]})
    return audited_update(
        rows=Organization.objects.all(),
        pk=org.pk,
        changes=lambda _org: {"allowed_email_domains": cleaned, "default_role": role.value},
        describe=lambda o: {
            "allowed_email_domains": o.allowed_email_domains,
            "default_role": o.default_role,
        },
        action=audit_actions.ORG_EMAIL_DOMAINS_CHANGED,
        actor=actor,
        org_id=lambda o: o.pk,
    )


def org_set_mfa_required(
    *, org: Organization, actor: Actor, by: OrgContext | None, required: bool
) -> Organization:
    """Require (or stop requiring) a second factor of members who sign in with a password:
    those without one enroll at their next portal sign-in, and the API login answers them
    ``403 mfa_enrollment_required``. ``security:write`` only (owners; ``by=None``: trusted
    system code). Atomic, audited with before/after."""
    check_may_change_security(by=by, what="require a second factor")
    return audited_update(
        rows=Organization.objects.all(),
        pk=org.pk,
        changes=lambda _org: {"mfa_required": bool(required)},
        describe=lambda o: {"mfa_required": o.mfa_required},
        action=audit_actions.ORG_MFA_REQUIREMENT_CHANGED,
        actor=actor,
        org_id=lambda o: o.pk,
    )


def memberships_join_by_email_domain(*, user: Any, actor: Actor) -> list[Membership]:
    """Join ``user`` (whose email the caller has VERIFIED) to every org that allows their
    email's domain and that they are not in, as that org's default role. Atomic; each join
    audited as ``member.joined_via_domain``.

    Spans orgs on purpose: it reads which orgs allow a domain, keyed by the domain."""
    domain = user.email.rsplit("@", 1)[-1].lower()
    # A text match narrows the rows on any database; the exact check is below.
    candidates = Organization.objects.filter(allowed_email_domains__icontains=f'"{domain}"')
    joined = []
    with transaction.atomic():
        for org in candidates:
            if domain not in org.allowed_email_domains:
                continue
            if Membership.objects.for_org(org).filter(user=user).exists():
                continue
            membership = insert_membership(org=org, user=user, role=org.default_role, field="email")
            record(
                org_id=org.pk,
                action=audit_actions.MEMBER_JOINED_VIA_DOMAIN,
                actor=actor,
                target=membership,
                target_label=user.email,
                metadata={"domain": domain, "role": org.default_role, "user_id": user.pk},
            )
            joined.append(membership)
    return joined


# --- Invitations: token emailed, only its digest stored; create, revoke, claim ------------

logger = logging.getLogger("tenantry.mail")

INVITATION_PREFIX = "inv_"


class InvitationInvalid(Exception):
    """Unknown, expired, revoked or already used: one answer for all."""


def invitation_create(
    *, org: Organization, actor: Actor, by: OrgContext | None, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role`` (no higher than the inviter's). Atomic, audited; the
    raw token is emailed to the invitee after commit, never stored or logged. It is also
    returned for trusted callers (commands, tests); the API does not pass it on.

    The invitation is first put to the org's pre-write hooks (``member.invite``), outside
    the transaction; a refusal raises ``HookDenied`` and nothing is written. So it is called
    outside any transaction (a view: ``outside_the_request_transaction()``); its own blocks
    are ``org_transaction``s of ``org`` (row-level security)."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": ["Invalid email"]}) from exc
    role = Role(role)
    check_may_grant(by=by, role=role)
    # What the rules refuse anyway is refused before a hook is asked (and again below, in
    # the write's transaction).
    with org_transaction(org.pk):
        _check_invitable(org, email, timezone.now())
    hooks_consult(
        org=org, actor=actor, action="member.invite", proposed={"email": email, "role": role.value}
    )
    now = timezone.now()
    with org_transaction(org.pk):
        by = relock_acting(org, by)  # the inviter's role now, after the hook's wait
        check_may_grant(by=by, role=role)
        _check_invitable(org, email, now)
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


def _check_invitable(org: Organization, email: str, now: datetime) -> None:
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise Conflict("Already a member of this organization", field="email")
    pending = Invitation.objects.for_org(org).filter(
        email=email, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    )
    if pending.exists():
        raise Conflict("An invitation for this email is already pending", field="email")


def invitation_revoke(*, org: Organization, actor: Actor, invitation: Invitation) -> None:
    """Revoke a pending invitation. Atomic, audited; revoking twice changes nothing."""
    with transaction.atomic():
        invitation = Invitation.objects.for_org(org).select_for_update().get(pk=invitation.pk)
        if invitation.status_at(timezone.now()) != "pending":
            raise Conflict("Only a pending invitation can be revoked")
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
            raise Conflict("Only a pending invitation can be sent again")
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


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
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


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
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


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def invitation_peek(raw_token: str) -> Invitation | None:
    """The pending invitation behind a token, read without a lock (to show the accept page);
    None for unknown, expired, revoked or used ones alike. A read: no write, no audit."""
    invitation = (
        Invitation.dangerously_unscoped.select_related("org")
        .filter(token_hash=hash_opaque_token(raw_token))
        .first()
    )
    if invitation is None or invitation.status_at(timezone.now()) != "pending":
        return None
    return invitation
