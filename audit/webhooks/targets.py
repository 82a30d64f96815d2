"""Which URLs a tenant may register as a target of outgoing calls: webhook endpoints and
pre-write hooks alike (the same SSRF rules for both).

At registration only what the URL itself says is judged: the scheme (https unless
``WEBHOOK_REQUIRE_HTTPS`` is off), no credentials, a valid port, and no private or
reserved address literal. Host names are judged where it matters, when each call resolves
them (``audit.webhooks.transport``), so DNS cannot answer one way now and another later.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from audit.webhooks.addresses import is_deliverable

MAX_URL_LENGTH = 2048


def url_error(url: str) -> str | None:
    """Why ``url`` may not be registered, or None when it may."""
    schemes = ["https"] if settings.WEBHOOK_REQUIRE_HTTPS else ["http", "https"]
    if len(url) > MAX_URL_LENGTH:
        return f"Must be at most {MAX_URL_LENGTH} characters"
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError:
        return "Enter a valid " + " or ".join(schemes) + " URL"
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
        return "The port must be 1 to 65535"
    if port == 0:
        return "The port must be 1 to 65535"
    if parts.username or parts.password:
        return "Credentials in the URL are not allowed"
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS and _is_private_literal(parts.hostname or ""):
        return "Private and reserved addresses are not allowed"
    return None


def _is_private_literal(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not is_deliverable(host)
    except ValueError:
        return False


def display_url(url: str) -> str:
    """Only the URL's origin (``scheme://host[:port]/…``), for labels, logs, audit metadata
    and the events other receivers get: receivers put tokens in the query (``?token=``)
    and in the path (Slack's and Discord's webhook URLs)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if port:
        host = f"{host}:{port}"
    hidden = parts.path not in ("", "/") or parts.query
    return f"{parts.scheme}://{host}/" + ("…" if hidden else "")
