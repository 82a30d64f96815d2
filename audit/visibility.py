"""Which part of the audit log a credential reads: shared by the API and the portal."""

from typing import Any

from django.apps import apps
from django.db.models import CharField
from django.db.models.functions import Cast

from audit.selectors import OwnEvents
from orgs.context import OrgContext

AUDIT_READ = "audit:read"
AUDIT_READ_OWN = "audit:read_own"


def own_events_for(context: OrgContext) -> OwnEvents | None:
    """None (the whole log) for ``audit:read``; else the holder's own part: what they did,
    what their keys did and what was done to their keys (``audit:read_own``)."""
    if context.allows(AUDIT_READ):
        return None
    user_id = context.membership.user_id
    # Audit stands below apikeys and does not import it: the model is named by its label
    # (as the retention purge names Organization). Its ids stay a subquery.
    api_key = apps.get_model("apikeys", "APIKey")
    keys: Any = api_key._default_manager
    own_key_ids = (
        keys.for_org(context.org)
        .filter(created_by_id=user_id)
        .annotate(id_text=Cast("pk", CharField()))
        .values("id_text")
    )
    return OwnEvents(
        user_id=str(user_id),
        actors={"api_key": own_key_ids},  # what their keys did (orgs.context.acting)
        targets={api_key._meta.label_lower: own_key_ids},  # what was done to them
    )
