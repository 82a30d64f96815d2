"""Reads of API keys: who sees which keys (the API and the portal), and the ids other
parts name by dotted path (they stand below apikeys)."""

from datetime import datetime
from typing import Any

from django.db.models import CharField, Count, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from apikeys.models import APIKey, APIKeyPolicy
from apikeys.policy import existing_key_rules, is_unrestricted
from orgs.context import OrgContext

STATUSES = ("active", "revoked", "expired")


class UnknownStatus(ValueError):
    pass


def api_keys_visible(keys: QuerySet[APIKey], *, context: OrgContext) -> QuerySet[APIKey]:
    """Of ``keys`` (already the org's), those ``context`` may see: everyone's with
    ``api_key:manage`` (admins, owners), else only the ones its member created."""
    keys = keys.select_related("created_by", "membership")
    if not context.allows("api_key:manage"):
        keys = keys.filter(created_by=context.membership.user)
    return keys


def api_keys_with_status(keys: QuerySet[APIKey], status: str) -> QuerySet[APIKey]:
    """Narrow ``keys`` to one status (``active``, ``revoked``, ``expired``) as of now;
    ``UnknownStatus`` for any other word."""
    if status not in STATUSES:
        raise UnknownStatus(f"Must be one of {', '.join(STATUSES)}")
    now = timezone.now()
    live = Q(revoked_at__isnull=True)
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    return {
        "active": keys.filter(live & unexpired),
        "revoked": keys.filter(revoked_at__isnull=False),
        "expired": keys.filter(live & Q(expires_at__lte=now)),
    }[status]


def api_key_ids_created_by(*, org: Any, user_id: int) -> QuerySet[APIKey, dict[str, Any]]:
    """The ids (as text, the audit trail's actor and target ids) of the keys ``user_id``
    created in ``org``: a subquery, for the audit log's "own events" (``audit.api``)."""
    return (
        APIKey.objects.for_org(org)
        .filter(created_by_id=user_id)
        .annotate(id_text=Cast("pk", CharField()))
        .values("id_text")
    )


def active_keys(keys: QuerySet[APIKey], *, now: datetime | None = None) -> QuerySet[APIKey]:
    """Of ``keys``, those that work: not revoked, not expired."""
    now = now or timezone.now()
    return keys.filter(
        Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def api_key_policy_of(org: Any) -> APIKeyPolicy:
    """The org's API-key policy; an unsaved one without restrictions when it has none."""
    return APIKeyPolicy.objects.for_org(org).first() or APIKeyPolicy(org_id=getattr(org, "pk", org))


class PolicyFlags:
    """Which of an org's keys are outside its API-key policy, and by which rules. Reads the
    policy once and, when the policy caps keys per member, which members are over the cap
    (one grouped query), on first use."""

    def __init__(self, org: Any, policy: APIKeyPolicy | None = None) -> None:
        self.org = org
        self._policy = policy
        self._over_limit: set[int] | None = None
        self.now = timezone.now()

    @property
    def policy(self) -> APIKeyPolicy:
        if self._policy is None:
            self._policy = api_key_policy_of(self.org)
        return self._policy

    def over_limit(self) -> set[int]:
        """Memberships holding more active keys than the policy allows."""
        if self._over_limit is None:
            limit = self.policy.max_active_keys_per_member
            self._over_limit = set()
            if limit is not None:
                counts = (
                    active_keys(APIKey.objects.for_org(self.org), now=self.now)
                    .filter(membership__isnull=False)
                    .values("membership_id")
                    .annotate(n=Count("pk"))
                    .filter(n__gt=limit)
                )
                self._over_limit = {row["membership_id"] for row in counts}
        return self._over_limit

    def rules_for(self, key: APIKey) -> list[str]:
        """The rule codes ``key`` is outside of (``membership`` should be selected)."""
        membership = key.membership
        return existing_key_rules(
            self.policy,
            key,
            role=membership.role if membership is not None else None,
            over_limit=key.membership_id in self.over_limit() if key.membership_id else False,
            now=self.now,
        )

    def out_of_policy(self) -> list[tuple[APIKey, list[str]]]:
        """Every active key of the org outside the policy, oldest first, with its rules."""
        if is_unrestricted(self.policy):
            return []
        keys = (
            active_keys(APIKey.objects.for_org(self.org), now=self.now)
            .select_related("created_by", "membership")
            .order_by("created_at", "pk")
        )
        found = []
        for key in keys:
            rules = self.rules_for(key)
            if rules:
                found.append((key, rules))
        return found
