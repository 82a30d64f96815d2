"""Which part of the audit log a credential reads: shared by the API and the portal."""

from django.conf import settings
from django.utils.module_loading import import_string

from audit.selectors import OwnEvents
from orgs.context import OrgContext

AUDIT_READ = "audit:read"
AUDIT_READ_OWN = "audit:read_own"  # only the caller's own part of the log
API_KEY_LABEL = "apikeys.apikey"  # the audit trail's target_type of an API key


def own_events_for(context: OrgContext) -> OwnEvents | None:
    """None (the whole log) for ``audit:read``; else the holder's own part: what they did,
    what their keys did and what was done to their keys (``audit:read_own``)."""
    if context.allows(AUDIT_READ):
        return None
    # Audit stands below apikeys and does not import it: settings name the selector (as
    # they name the authentication classes), the trail names the model by label.
    own_keys = import_string(settings.AUDIT_OWN_API_KEY_IDS)
    own_key_ids = own_keys(org=context.org, user_id=context.membership.user_id)  # a subquery
    return OwnEvents(
        user_id=str(context.membership.user_id),
        actors={"api_key": own_key_ids},  # what their keys did (orgs.context.acting)
        targets={API_KEY_LABEL: own_key_ids},  # what was done to them
    )
