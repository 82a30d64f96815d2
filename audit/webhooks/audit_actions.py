from audit.registry import register

WEBHOOK_CREATED = register("webhook.created", "A webhook endpoint was added")
WEBHOOK_UPDATED = register("webhook.updated", "A webhook endpoint's URL, filter or state changed")
WEBHOOK_DELETED = register("webhook.deleted", "A webhook endpoint was removed")
