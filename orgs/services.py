"""Every write to organizations and memberships. Each is atomic and audited.

``by`` is the acting credential (member, role and, for an API key, its scopes) when a
person acts through the API or portal; ``None`` means trusted system code (management
commands, sign-up), which is not bound by role rules.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction

from audit.actors import Actor
from audit.services import before_after, record
from orgs import audit_actions
from orgs.context import OrgContext
from orgs.errors import Conflict
from orgs.fields import has_control_characters
from orgs.hosts import RESERVED_SUBDOMAINS
from orgs.models import Membership, Organization
from orgs.roles import Role


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
    *, org: Organization, actor: Actor, name: str | None = None, jwt_enabled: bool | None = None
) -> Organization:
    """Change the org's name or JWT switch. Atomic, audited with before/after."""
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=org.pk)
        before = {"name": org.name, "jwt_enabled": org.jwt_enabled}
        if name is not None:
            org.name = name.strip()
            if errors := _name_errors(org.name):
                raise ValidationError(errors)
        if jwt_enabled is not None:
            org.jwt_enabled = jwt_enabled
        after = {"name": org.name, "jwt_enabled": org.jwt_enabled}
        changed = {k for k in after if after[k] != before[k]}
        if changed:
            org.save(update_fields=sorted(changed))
            record(
                org_id=org.pk,
                action=audit_actions.ORG_UPDATED,
                actor=actor,
                target=org,
                metadata=before_after(before, after, changed),
            )
    return org


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
    the last owner cannot be demoted. Atomic, audited with before/after."""
    role = Role(role)
    with transaction.atomic():
        membership = _lock(org, membership)
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


def _lock(org: Organization, membership: Membership) -> Membership:
    return (
        Membership.objects.for_org(org)
        .select_for_update()
        .select_related("user")
        .get(pk=membership.pk)
    )


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
