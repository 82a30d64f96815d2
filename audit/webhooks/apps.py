from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhook endpoints and deliveries: tenant data, so they stand on ``orgs`` (the tenant
    manager) while the audit record path below them imports no other app. Hence an app of
    its own, nested in ``audit`` where the design puts webhooks."""

    name = "audit.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from audit.webhooks import audit_actions  # noqa: F401 - registers the actions
