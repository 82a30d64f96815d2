"""Every write to webhook endpoints. Each is atomic, validated and audited.

Like the other apps' services these check no role: the caller (the viewset, via the role
table) decides who may manage webhooks. The org is explicit and scopes every lookup, so
another org's endpoint is ``WebhookEndpoint.DoesNotExist``, which the API renders as its 404.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import OutboxEvent
from audit.registry import all_actions
from audit.services import audited_update, record
from audit.webhooks import audit_actions
from audit.webhooks.models import WebhookDelivery, WebhookEndpoint
from audit.webhooks.signing import generate_secret
from audit.webhooks.targets import display_url, url_error

Status = WebhookDelivery.Status
MAX_DESCRIPTION_LENGTH = 255


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    # The signing secret, handed out here once, for the create response only.
    secret: str


def webhook_endpoint_create(
    *,
    org: Any,
    actor: Actor,
    url: str,
    description: str = "",
    event_types: Iterable[str] = (),
    enabled: bool = True,
) -> CreatedEndpoint:
    """Add an endpoint with a new signing secret. Atomic, audited (``webhook.created``,
    without the secret). Returns the secret with the endpoint, once."""
    fields = _clean(url=url, description=description, event_types=event_types)
    secret = generate_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(org=org, secret=secret, enabled=enabled, **fields)
        record(
            org_id=endpoint.org_id,
            action=audit_actions.WEBHOOK_CREATED,
            actor=actor,
            target=endpoint,
            metadata=_describe(endpoint),
        )
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def webhook_endpoint_update(
    *,
    org: Any,
    actor: Actor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, description, event filter or enabled state. Atomic,
    audited (``webhook.updated``) with before/after of what changed; a no-op writes
    nothing."""

    def changes(locked: WebhookEndpoint) -> dict[str, Any]:
        fields = _clean(
            url=locked.url if url is None else url,
            description=locked.description if description is None else description,
            event_types=locked.event_types if event_types is None else event_types,
        )
        return fields if enabled is None else {**fields, "enabled": enabled}

    return audited_update(
        rows=WebhookEndpoint.objects.for_org(org),
        pk=endpoint.pk,
        changes=changes,
        describe=_describe,  # the URL's path and query stay out; a change there is named
        action=audit_actions.WEBHOOK_UPDATED,
        actor=actor,
        org_id=lambda locked: locked.org_id,
    )


def webhook_endpoint_delete(*, org: Any, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its deliveries (pending ones are never sent). Atomic,
    audited (``webhook.deleted``)."""
    with transaction.atomic():
        endpoint = _lock(org, endpoint)
        record(
            org_id=endpoint.org_id,
            action=audit_actions.WEBHOOK_DELETED,
            actor=actor,
            target=endpoint,
            metadata=_describe(endpoint),
        )
        endpoint.delete()


def webhook_endpoint_send_test(
    *, org: Any, actor: Actor, endpoint: WebhookEndpoint
) -> WebhookDelivery:
    """Queue a ``webhook.tested`` event for this one endpoint (whatever its event filter),
    signed and retried like any other. Atomic, audited: the audit row IS the test event,
    and its outbox event goes to this endpoint only, never fanned out to the others."""
    now = timezone.now()
    with transaction.atomic():
        endpoint = _lock(org, endpoint)
        event = record(
            org_id=endpoint.org_id,
            action=audit_actions.WEBHOOK_TESTED,
            actor=actor,
            target=endpoint,
            metadata={"url": display_url(endpoint.url)},
        )
        outbox = OutboxEvent.objects.for_org(endpoint.org_id).get(audit_event=event)
        outbox.dispatched_at = now  # delivered here, not by the fan-out to every endpoint
        outbox.save(update_fields=["dispatched_at"])
        return WebhookDelivery.objects.create(
            org_id=endpoint.org_id, endpoint=endpoint, event=outbox, next_attempt_at=now
        )


def webhook_delivery_retry(*, org: Any, actor: Actor, delivery: WebhookDelivery) -> None:
    """Make a failed or dead delivery due now (a dead one gets its attempts back). Atomic,
    audited; a delivery that is pending, in flight or succeeded is refused."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.for_org(org)
            .select_for_update()
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        in_flight = delivery.locked_until is not None and delivery.locked_until > now
        if delivery.status not in (Status.FAILED, Status.DEAD) or in_flight:
            raise ValidationError("Only a failed or dead delivery can be retried")
        before = delivery.status
        delivery.status = Status.FAILED if before == Status.FAILED else Status.PENDING
        if before == Status.DEAD:
            delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
        record(
            org_id=delivery.org_id,
            action=audit_actions.WEBHOOK_DELIVERY_RETRIED,
            actor=actor,
            target=delivery.endpoint,
            metadata={"delivery_id": delivery.pk, "status_before": before},
        )


def _lock(org: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.for_org(org).select_for_update().get(pk=endpoint.pk)


def _describe(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # What the audit trail keeps of an endpoint: never the secret, nor the URL's query.
    return {
        "url": display_url(endpoint.url),
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


def _clean(*, url: str, description: str, event_types: Iterable[str]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    url = url.strip()
    if problem := url_error(url):
        errors["url"] = [problem]
    description = description.strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        errors["description"] = [f"Must be at most {MAX_DESCRIPTION_LENGTH} characters"]
    if isinstance(event_types, str):
        event_types = [event_types]
    types = sorted(set(event_types))
    known = {action.name for action in all_actions()}
    unknown = [t for t in types if t not in known]
    if unknown:
        errors["event_types"] = [f"Unknown event type: {t}" for t in unknown]
    if errors:
        raise ValidationError(errors)
    return {"url": url, "description": description, "event_types": types}
