"""Reads of API keys: who sees which keys (the API and the portal), and the ids other
parts name by dotted path (they stand below apikeys)."""

from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from apikeys.models import APIKey
from orgs.context import OrgContext

STATUSES = ("active", "revoked", "expired")


class UnknownStatus(ValueError):
    pass


def api_keys_visible(keys: QuerySet[APIKey], *, context: OrgContext) -> QuerySet[APIKey]:
    """Of ``keys`` (already the org's), those ``context`` may see: everyone's with
    ``api_key:manage`` (admins, owners), else only the ones its member created."""
    keys = keys.select_related("created_by")
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
