"""Every write to API keys. Atomic and audited; the raw key is returned once, never stored,
logged or audited."""

import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apikeys import audit_actions, crypto
from apikeys.models import APIKey, APIKeyPolicy
from apikeys.policy import (
    POLICY_FIELDS,
    UNUSED_NOTICE,
    NewKey,
    describe,
    idle_since,
    is_unrestricted,
    live_ip_allowlist_violation,
    max_active_keys_violation,
    new_key_violations,
)
from apikeys.selectors import PolicyFlags, active_keys, api_key_policy_of
from audit.actors import Actor
from audit.services import audited_update, record
from hooks.services import hooks_consult
from orgs.context import OrgContext
from orgs.errors import Conflict, PolicyViolation
from orgs.models import Membership, Organization
from orgs.ratelimits import org_rates, parse_rate, rate_per_second
from orgs.roles import ACTIONS, Role
from orgs.services import lock_active_membership
from tenancy.rls import cross_org, org_transaction

logger = logging.getLogger("tenantry.mail")

MAX_GRACE = timedelta(days=7)


def api_key_create(
    *,
    org: Organization,
    actor: Actor,
    creator: Membership,
    within: frozenset[str] | None = None,
    name: str,
    env: str = "live",
    scopes: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    allowed_ips: list[str] | None = None,
    expires_at: datetime | None = None,
    rate_limit: str | None = None,
) -> tuple[APIKey, str]:
    """Make a key that acts as ``creator`` narrowed by ``scopes``. Atomic, audited.

    ``within`` is the scope set of the credential making the request, when that is itself
    a scoped key: the new key never holds more than its maker (no scope laundering). The
    org's API-key policy must allow the key (``PolicyViolation`` names each rule it breaks).

    The valid proposal is then put to the org's pre-write hooks (``api_key.create``),
    outside the transaction; a refusal raises ``HookDenied`` and nothing is written. So it
    is called outside any transaction (a view: ``outside_the_request_transaction()``); its
    own blocks are ``org_transaction``s of ``org`` (row-level security).
    """
    scopes = _narrowed(scopes, within)
    fields = _validated(
        name=name,
        scopes=scopes,
        allowed_origins=allowed_origins or [],
        allowed_ips=allowed_ips or [],
        expires_at=expires_at,
        env=env,
        rate_limit=(org, rate_limit or ""),
    )
    # What the policy refuses anyway is refused before a hook is asked (in a transaction of
    # its own, for the policy's row lock; again below, in the write's, where it counts).
    with org_transaction(org.pk):
        _enforce_policy(org=org, creator=creator, replacing=None, **fields)
    hooks_consult(
        org=org,
        actor=actor,
        action="api_key.create",
        proposed={
            **_proposed(fields),
            "creator": {
                "membership_id": creator.pk,
                "user_id": creator.user_id,
                "role": creator.role,
            },
        },
    )
    with org_transaction(org.pk):
        creator = _relock_creator(org, creator, shown_role=creator.role)
        _enforce_policy(org=org, creator=creator, replacing=None, **fields)
        key, raw = _insert(org=org, creator=creator, **fields)
        record(
            org_id=org.pk,
            action=audit_actions.API_KEY_CREATED,
            actor=actor,
            target=key,
            metadata=_public_fields(key),
        )
    return key, raw


def api_key_update(
    *,
    org: Organization,
    actor: Actor,
    key: APIKey,
    name: str | None = None,
    allowed_origins: list[str] | None = None,
    allowed_ips: list[str] | None = None,
    rate_limit: str | None = None,
) -> APIKey:
    """Rename a key or change its allow-lists or rate limit. Atomic, audited with
    before/after."""
    changes, errors = _editable_fields(
        name=name, allowed_origins=allowed_origins, allowed_ips=allowed_ips
    )
    if rate_limit is not None:
        changes["rate_limit"] = _rate_limit(org, rate_limit, errors)
    if errors:
        raise ValidationError(errors)
    emptied = changes.get("allowed_ips") == [] and key.env == "live"
    if emptied and api_key_policy_of(org).require_ip_allowlist_for_live:
        raise PolicyViolation([live_ip_allowlist_violation()])
    return audited_update(
        rows=APIKey.objects.for_org(org),
        pk=key.pk,
        changes=lambda _key: changes,
        describe=_public_fields,
        action=audit_actions.API_KEY_UPDATED,
        actor=actor,
        org_id=lambda _key: org.pk,
    )


def api_key_revoke(*, org: Organization, actor: Actor, key: APIKey) -> None:
    """Revoke a key, irreversibly, effective on the very next request. Atomic, audited;
    revoking a revoked key changes nothing."""
    with transaction.atomic():
        key = APIKey.objects.for_org(org).select_for_update().get(pk=key.pk)
        if key.revoked_at is not None:
            return
        _revoke(key, reason="revoked")
        record(org_id=org.pk, action=audit_actions.API_KEY_REVOKED, actor=actor, target=key)


def api_key_roll(
    *,
    org: Organization,
    actor: Actor,
    key: APIKey,
    grace_seconds: int,
    by: OrgContext | None,
    within: frozenset[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[APIKey, str]:
    """Replace a key with a new one of the same settings, acting as the same member; the
    old one keeps working for ``grace_seconds`` (0 ends it now). Whoever rolls it gains and
    loses nothing: the key keeps its creator. The new key expires when the old one did, or
    at ``expires_at`` when given. The org's API-key policy must allow the new key, as for a
    create (``PolicyViolation``). Atomic, audited as one event; returns the new raw key.

    Only the key's creator may roll it (``by`` None: trusted system code). The new secret
    acts as the creator, so handing it to anyone else, even an admin who may revoke the key,
    would let them act with the creator's role.

    The roll is first put to the org's pre-write hooks (``api_key.roll``), outside the
    transaction; a refusal raises ``HookDenied`` and nothing is written. So it is called
    outside any transaction (a view: ``outside_the_request_transaction()``); its own blocks
    are ``org_transaction``s of ``org`` (row-level security).
    """
    grace = timedelta(seconds=grace_seconds)
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise ValidationError({"grace_seconds": [f"Must be 0 to {int(MAX_GRACE.total_seconds())}"]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["Must be in the future"]})
    # What the rules and the policy refuse anyway is refused before a hook is asked (in a
    # transaction of its own, for the policy's row lock); again below, under the key's
    # lock, where it counts.
    with org_transaction(org.pk):
        current = APIKey.objects.for_org(org).select_related("membership").get(pk=key.pk)
        _check_rollable(current, by=by, now=timezone.now())
        proposed = _roll_fields(current, within=within, expires_at=expires_at)
        assert current.membership is not None  # _check_rollable refused a key without one
        _enforce_policy(org=org, creator=current.membership, replacing=current, **proposed)
    hooks_consult(
        org=org,
        actor=actor,
        action="api_key.roll",
        proposed={
            "key_id": current.pk,
            "prefix": current.prefix,
            "grace_seconds": grace_seconds,
            **_proposed(proposed),
            "creator": {"membership_id": current.membership_id, "user_id": current.created_by_id},
        },
    )
    now = timezone.now()
    with org_transaction(org.pk):
        old = (
            APIKey.objects.for_org(org)
            .select_for_update(of=("self",))
            .select_related("membership")
            .get(pk=key.pk)
        )
        _check_rollable(old, by=by, now=now)
        assert old.membership is not None  # _check_rollable refused a key without one
        creator = _relock_creator(org, old.membership, shown_role=None)
        fields = _roll_fields(old, within=within, expires_at=expires_at)
        if _proposed(fields) != _proposed(proposed):
            # api_key_update changed the key during the hook's wait: the new key would not
            # be the one the hook approved.
            raise Conflict("This key changed while its roll was being approved; try again")
        _enforce_policy(org=org, creator=creator, replacing=old, **fields)
        new, raw = _insert(org=org, creator=creator, **fields)
        ends = now + grace
        old.expires_at = min(old.expires_at, ends) if old.expires_at else ends
        old.replaced_by = new
        old.save(update_fields=["expires_at", "replaced_by"])
        record(
            org_id=org.pk,
            action=audit_actions.API_KEY_ROLLED,
            actor=actor,
            target=old,
            metadata={"new_key_id": new.pk, "old_key_ends_at": old.expires_at.isoformat()},
        )
    return new, raw


def _relock_creator(
    org: Organization, creator: Membership, *, shown_role: str | None
) -> Membership:
    """Inside a write's transaction, after a pre-write hook's wait: the key's creator (for
    a create or a roll, also the acting member) locked and re-read, so it cannot be removed
    before the new key that points at it commits. Removed or no longer active meanwhile:
    ``PermissionDenied`` (403). Its role no longer the one the hook was shown
    (``shown_role``): ``Conflict`` (409, try again)."""
    locked = lock_active_membership(org, creator.pk)
    if locked is None:
        raise PermissionDenied("Your membership ended while this key was being approved")
    if shown_role is not None and locked.role != shown_role:
        raise Conflict("Your role changed while this key was being approved; try again")
    return locked


def _check_rollable(key: APIKey, *, by: OrgContext | None, now: datetime) -> None:
    if key.status_at(now) != "active" or key.replaced_by_id is not None:
        raise Conflict("Only an active key that was not rolled already can be rolled")
    if key.membership_id is None:
        raise ValidationError("This key's creator has left the organization; create a new key")
    if by is not None and by.membership.pk != key.membership_id:
        raise PermissionDenied("Only the key's creator can roll it; revoke it instead")


def _proposed(fields: dict[str, Any]) -> dict[str, Any]:
    """A key's settings as a pre-write hook sees them (JSON; there is no secret among them)."""
    expires_at = fields.get("expires_at")
    return {
        "name": fields["name"],
        "env": fields["env"],
        "scopes": fields["scopes"],
        "allowed_origins": fields["allowed_origins"],
        "allowed_ips": fields["allowed_ips"],
        "expires_at": expires_at.isoformat() if expires_at else None,
        "rate_limit": fields["rate_limit"],
    }


def _roll_fields(
    old: APIKey, *, within: frozenset[str] | None, expires_at: datetime | None
) -> dict[str, Any]:
    """The new key of a roll: the old one's settings, a new expiry when given."""
    return {
        "name": old.name,
        "env": old.env,
        "scopes": _narrowed(old.scopes, within),
        "allowed_origins": old.allowed_origins,
        "allowed_ips": old.allowed_ips,
        "expires_at": expires_at or old.expires_at,
        "rate_limit": old.rate_limit,
    }


def _enforce_policy(
    *, org: Organization, creator: Membership, replacing: APIKey | None, **fields: Any
) -> None:
    """Inside the caller's transaction: refuse a new key the org's API-key policy does not
    allow, naming every rule it breaks. ``replacing``: the key a roll replaces, which does
    not count toward its creator's active keys."""
    policy = api_key_policy_of(org)
    if is_unrestricted(policy):
        return
    new = NewKey(
        role=creator.role,
        env=fields["env"],
        scopes=fields["scopes"],
        expires_at=fields["expires_at"],
        allowed_ips=fields["allowed_ips"],
    )
    found = new_key_violations(policy, new, now=timezone.now())
    limit = policy.max_active_keys_per_member
    if limit is not None:
        # The creator's membership row is the lock: concurrent creates count one by one.
        Membership.objects.for_org(org).select_for_update().filter(pk=creator.pk).first()
        held = active_keys(APIKey.objects.for_org(org)).filter(membership_id=creator.pk)
        if replacing is not None:
            held = held.exclude(pk=replacing.pk)
        if held.count() >= limit:
            found.append(max_active_keys_violation(limit))
    if found:
        raise PolicyViolation(found)


def leaked_keys_report(*, reports: list[dict[str, str]], actor: Actor) -> int:
    """Revoke every live key among ``reports`` (GitHub secret-scanning style) and email the
    owners of each affected org. Audited per key; returns how many were revoked.

    Reports are matched by digest only; the reported token is never stored or logged.
    """
    revoked: list[APIKey] = []
    with transaction.atomic():
        for report in reports:
            parsed = crypto.parse(report.get("token", ""))
            if parsed is None:
                continue
            key = (
                APIKey.dangerously_unscoped.select_for_update()
                .filter(key_hash__in=crypto.candidate_digests(parsed.raw), revoked_at__isnull=True)
                .first()
            )  # spans orgs on purpose: a leak report names no org; the key does
            if key is None:
                continue
            _revoke(key, reason="leaked")
            record(
                org_id=key.org_id,
                action=audit_actions.API_KEY_LEAK_REPORTED,
                actor=actor,
                target=key,
                metadata={
                    "url": str(report.get("url", ""))[:500],
                    "source": str(report.get("source", ""))[:100],
                    "prefix": key.prefix,
                },
            )
            revoked.append(key)
        for key in revoked:
            transaction.on_commit(partial(_notify_owners_of_leak, key))
    return len(revoked)


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def api_key_touch(*, key_id: int, ip: str | None) -> None:
    """Bookkeeping, not a user's write (so not audited): when and where a key was last used.
    Callers throttle it to once a minute per key."""
    APIKey.dangerously_unscoped.filter(pk=key_id).update(
        last_used_at=timezone.now(), last_used_ip=ip
    )


def _insert(*, org: Organization, creator: Membership, **fields: Any) -> tuple[APIKey, str]:
    parsed = crypto.generate(fields.pop("env"))
    pepper_id = crypto.current_pepper_id()
    key = APIKey.objects.create(
        org=org,
        membership=creator,
        created_by_id=creator.user_id,
        env=parsed.env,
        prefix=parsed.display_prefix,
        last_four=parsed.last_four,
        key_hash=crypto.digest(parsed.raw, pepper_id),
        pepper_id=pepper_id,
        **fields,
    )
    return key, parsed.raw


def _narrowed(scopes: list[str] | None, within: frozenset[str] | None) -> list[str] | None:
    if within is None:
        return scopes
    return sorted(within if scopes is None else set(scopes) & within)


def _revoke(key: APIKey, *, reason: str) -> None:
    key.revoked_at = timezone.now()
    key.revoked_reason = reason
    key.save(update_fields=["revoked_at", "revoked_reason"])


def _public_fields(key: APIKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "env": key.env,
        "scopes": key.scopes,
        "allowed_origins": key.allowed_origins,
        "allowed_ips": key.allowed_ips,
        "rate_limit": key.rate_limit,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


def _validated(
    *,
    name: str,
    scopes: list[str] | None,
    allowed_origins: list[str],
    allowed_ips: list[str],
    expires_at: datetime | None,
    env: str,
    rate_limit: tuple[Organization, str],
) -> dict[str, Any]:
    fields, errors = _editable_fields(
        name=name, allowed_origins=allowed_origins, allowed_ips=allowed_ips
    )
    fields["rate_limit"] = _rate_limit(*rate_limit, errors)
    if scopes is not None:
        unknown = sorted(set(scopes) - set(ACTIONS))
        if unknown:
            errors["scopes"] = [f"Unknown scope: {', '.join(unknown)}"]
        scopes = sorted(set(scopes))
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["Must be in the future"]
    if env not in crypto.ENVIRONMENTS:
        errors["env"] = ["Must be live or test"]
    if errors:
        raise ValidationError(errors)
    return {**fields, "scopes": scopes, "expires_at": expires_at, "env": env}


def _editable_fields(
    *, name: str | None, allowed_origins: list[str] | None, allowed_ips: list[str] | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The fields a key's owner may set and change, normalised, with what is wrong in them
    (the caller decides when to raise, so create can report every field at once)."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 100:
            errors["name"] = ["Must be 1 to 100 characters"]
        fields["name"] = name
    if allowed_origins is not None:
        origins = [_origin(o) for o in allowed_origins]
        bad = [o for o, parsed in zip(allowed_origins, origins, strict=True) if parsed is None]
        if bad:
            errors["allowed_origins"] = [f"Not an origin (scheme://host[:port]): {b}" for b in bad]
        fields["allowed_origins"] = [o for o in origins if o]
    if allowed_ips is not None:
        networks = []
        for block in allowed_ips:
            try:
                networks.append(str(ipaddress.ip_network(block.strip(), strict=False)))
            except ValueError:
                errors.setdefault("allowed_ips", []).append(f"Not an IP address or CIDR: {block}")
        fields["allowed_ips"] = networks
    return fields, errors


def _rate_limit(org: Organization, value: str, errors: dict[str, list[str]]) -> str:
    """A key's own rate: blank (the org's per-key rate) or a rate no faster than it."""
    value = value.strip()
    if not value:
        return ""
    org_rate = org_rates(org)["key"]
    if parse_rate(value) is None:
        errors["rate_limit"] = ["Not a rate: use <count>/<period>, e.g. 100/m or 300/15m"]
    elif rate_per_second(value) > rate_per_second(org_rate):
        errors["rate_limit"] = [f"Above the organization's per-key rate ({org_rate})"]
    return value


def _origin(value: str) -> str | None:
    try:
        parts = urlsplit(value.strip().lower())
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError:  # "https://[::1" (an unclosed IPv6 bracket), "https://a:99999"
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _notify_owners_of_leak(key: APIKey) -> None:
    """After commit: the key is revoked whether or not the mail goes out."""
    try:
        _mail_owners_of_leak(key)
    except Exception:
        logger.exception("API key %s: the leak notice could not be mailed", key.pk)


def _mail_owners_of_leak(key: APIKey) -> None:
    owners = Membership.objects.for_org(key.org_id).filter(role=Role.OWNER).select_related("user")
    recipients = [m.user.email for m in owners]
    if not recipients:
        return
    send_mail(
        subject=f"Tenantry: API key {key.prefix}…{key.last_four} was exposed and revoked",
        message=(
            f"The API key '{key.name}' ({key.prefix}…{key.last_four}) was reported as publicly "
            "exposed and has been revoked. Create a new key and update the integrations that "
            f"used it. Reported at {timezone.now():%Y-%m-%d %H:%M} UTC."
        ),
        from_email=None,
        recipient_list=recipients,
    )


def api_key_pepper_generate(*, actor: Actor) -> tuple[str, str]:
    """A new API-key pepper ``(id, secret)`` for the operator to deploy. Audited (the id only,
    never the secret); keys hashed under older peppers keep verifying while those stay listed."""
    pepper_id = "k" + timezone.now().strftime("%Y%m%d") + secrets.token_hex(2)
    with transaction.atomic():
        record(
            org_id=None,
            action=audit_actions.API_KEY_PEPPER_GENERATED,
            actor=actor,
            target_type="api_key_pepper",
            target_label=pepper_id,
            metadata={"pepper_id": pepper_id},
        )
    return pepper_id, secrets.token_hex(32)


# --- The org's API-key policy -------------------------------------------------------------

MAX_DAYS = 3650
MIN_UNUSED_DAYS = 14  # a week of disuse before the week's notice


def api_key_policy_set(
    *, org: Organization, actor: Actor, by: OrgContext | None, changes: dict[str, Any]
) -> tuple[APIKeyPolicy, list[tuple[APIKey, list[str]]]]:
    """Change the org's API-key policy; fields not in ``changes`` keep their value. Owners
    only (``security:write``; ``by=None``: trusted system code). Existing keys are never
    revoked here: the answer lists the active keys the new policy leaves outside it, with
    the rules of each. Atomic, audited with before/after; a change to nothing writes nothing.
    """
    if by is not None and not by.allows("security:write"):
        raise PermissionDenied("Only an owner can change the API-key policy")
    cleaned = _policy_changes(changes)
    with transaction.atomic():
        current = APIKeyPolicy.objects.for_org(org).first()
        proposed = APIKeyPolicy(org=org, **{**(describe(current) if current else {}), **cleaned})
        if current is None and is_unrestricted(proposed):
            return proposed, []  # no row means no restriction: nothing to write
        if current is None:
            current, _ = APIKeyPolicy.objects.for_org(org).get_or_create(org=org)
        policy = audited_update(
            rows=APIKeyPolicy.objects.for_org(org),
            pk=current.pk,
            changes=lambda _policy: cleaned,
            describe=describe,
            action=audit_actions.API_KEY_POLICY_UPDATED,
            actor=actor,
            org_id=lambda _policy: org.pk,
        )
    return policy, PolicyFlags(org, policy).out_of_policy()


def _policy_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The policy fields of ``changes``, normalised, or a ValidationError naming each bad one."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    bounds = {
        "max_lifetime_days": (1, MAX_DAYS),
        "revoke_unused_after_days": (MIN_UNUSED_DAYS, MAX_DAYS),
        "max_active_keys_per_member": (1, 10_000),
    }
    for name, (low, high) in bounds.items():
        if name not in changes:
            continue
        value = changes[name]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        ):
            errors[name] = [f"Must be empty (no limit) or a whole number from {low} to {high}"]
        cleaned[name] = value
    roles = [r.value for r in Role]
    for name, choices in (
        ("scope_ceilings", list(ACTIONS)),
        ("allowed_environments", list(crypto.ENVIRONMENTS)),
    ):
        if name not in changes:
            continue
        table = changes[name] or {}
        if not isinstance(table, dict):
            errors[name] = ["Must map roles to lists"]
            continue
        cleaned[name] = {}
        for role, values in table.items():
            if values is None:
                continue  # no restriction for this role
            if role not in roles:
                errors.setdefault(name, []).append(f"Not a role: {role}")
            elif not isinstance(values, list) or not all(v in choices for v in values):
                errors.setdefault(name, []).append(f"{role}: each must be one of {choices}")
            else:
                cleaned[name][role] = [c for c in choices if c in values]
    if "require_ip_allowlist_for_live" in changes:
        value = changes["require_ip_allowlist_for_live"]
        if not isinstance(value, bool):
            errors["require_ip_allowlist_for_live"] = ["Must be true or false"]
        cleaned["require_ip_allowlist_for_live"] = value
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        errors["__all__"] = [f"Unknown policy field: {', '.join(unknown)}"]
    if errors:
        raise ValidationError(errors)
    return cleaned


@dataclass
class SweepResult:
    """What one org's unused-key sweep did (or, in a dry run, would do)."""

    org: Organization
    revoked: list[APIKey] = field(default_factory=list)
    warned: list[APIKey] = field(default_factory=list)


def api_keys_sweep_unused(
    *, org: Organization, actor: Actor, now: datetime | None = None, dry_run: bool = False
) -> SweepResult:
    """Revoke the org's active keys unused (since their last use, else their creation) for
    the policy's ``revoke_unused_after_days``, never sooner than ``UNUSED_NOTICE`` (a week)
    after the owners were told; and tell the owners, once per idle stretch, of the keys
    that will reach that point within a week (a key already past it is told of first and
    revoked a week later: nobody loses a key without notice). A use after the notice makes
    it stale. Atomic per org; each revocation audited as ``api_key.revoked_unused`` and each
    notice as ``api_key.unused_warning_sent`` with ``actor`` (the system); one mail to the
    org's owners after commit. ``dry_run``: decide, write and send nothing."""
    now = now or timezone.now()
    result = SweepResult(org=org)
    days = api_key_policy_of(org).revoke_unused_after_days
    if days is None:
        return result
    limit = timedelta(days=days)
    with transaction.atomic():
        keys = active_keys(APIKey.objects.for_org(org), now=now).order_by("pk")
        for key in keys.select_for_update() if not dry_run else keys:
            since, told_at = idle_since(key), key.unused_warned_at
            told = told_at is not None and told_at >= since
            if told_at is not None and told and now >= max(since + limit, told_at + UNUSED_NOTICE):
                result.revoked.append(key)
            elif not told and now >= since + limit - UNUSED_NOTICE:
                result.warned.append(key)
        if dry_run:
            return result
        for key in result.revoked:
            _revoke(key, reason="unused")
            record(
                org_id=org.pk,
                action=audit_actions.API_KEY_REVOKED_UNUSED,
                actor=actor,
                target=key,
                metadata={
                    "unused_days": days,
                    "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
                    "warned_at": key.unused_warned_at.isoformat() if key.unused_warned_at else None,
                },
            )
        for key in result.warned:
            key.unused_warned_at = now
            key.save(update_fields=["unused_warned_at"])
            record(
                org_id=org.pk,
                action=audit_actions.API_KEY_UNUSED_WARNING_SENT,
                actor=actor,
                target=key,
                metadata={
                    "unused_days": days,
                    "revoke_after": _revoke_after(key, limit).isoformat(),
                },
            )
        if result.warned:
            warned = list(result.warned)
            transaction.on_commit(partial(_notify_owners_of_unused, org, warned, limit))
    return result


def _revoke_after(key: APIKey, limit: timedelta) -> datetime:
    assert key.unused_warned_at is not None
    return max(idle_since(key) + limit, key.unused_warned_at + UNUSED_NOTICE)


def _notify_owners_of_unused(org: Organization, keys: list[APIKey], limit: timedelta) -> None:
    """After commit: a mail failure is logged; the notice stands (the next use resets it)."""
    try:
        owners = (
            Membership.objects.for_org(org)
            .filter(role=Role.OWNER, status=Membership.Status.ACTIVE)
            .select_related("user")
        )
        recipients = [m.user.email for m in owners]
        if not recipients:
            return
        lines = [
            f"- {key.name} ({key.prefix}…{key.last_four}), last used "
            f"{key.last_used_at:%Y-%m-%d} UTC"
            if key.last_used_at
            else f"- {key.name} ({key.prefix}…{key.last_four}), never used"
            for key in keys
        ]
        when = min(_revoke_after(key, limit) for key in keys)
        send_mail(
            subject=f"Tenantry: {len(keys)} unused API key(s) of {org.name} will be revoked",
            message=(
                f"{org.name}'s API-key policy revokes keys unused for {limit.days} days. "
                "These keys have not been used for a while and will be revoked on or after "
                f"{when:%Y-%m-%d} UTC unless they are used before then:\n\n"
                + "\n".join(lines)
                + f"\n\nSee them in the portal: {settings.PORTAL_URL}/settings/api-keys/"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("Org %s: the unused-key notice could not be mailed", org.pk)
