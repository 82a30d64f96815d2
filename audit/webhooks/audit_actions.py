from audit.registry import register

WEBHOOK_CREATED = register("webhook.created", "A webhook endpoint was added")
WEBHOOK_UPDATED = register("webhook.updated", "A webhook endpoint's URL, filter or state changed")
WEBHOOK_DELETED = register("webhook.deleted", "A webhook endpoint was removed")
WEBHOOK_TESTED = register("webhook.tested", "A test event was sent to a webhook endpoint")
WEBHOOK_DELIVERY_RETRIED = register(
    "webhook.delivery_retried", "A failed webhook delivery was queued to be sent again now"
)
