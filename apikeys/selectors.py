"""Reads of API keys that other parts name by dotted path (they stand below apikeys)."""

from typing import Any

from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from apikeys.models import APIKey


def api_key_ids_created_by(*, org: Any, user_id: int) -> QuerySet[APIKey, dict[str, Any]]:
    """The ids (as text, the audit trail's actor and target ids) of the keys ``user_id``
    created in ``org``: a subquery, for the audit log's "own events" (``audit.api``)."""
    return (
        APIKey.objects.for_org(org)
        .filter(created_by_id=user_id)
        .annotate(id_text=Cast("pk", CharField()))
        .values("id_text")
    )
