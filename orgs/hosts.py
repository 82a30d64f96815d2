"""Which org a person acts in, from the host they are on (``<org-slug>.<BASE_DOMAIN>``).

A signed-in person (the browser session) carries no org of its own the way a token or key
does: the subdomain names it when the person is a member there, else the org the session
last chose (the portal's switcher), else their oldest membership.
"""

from django.conf import settings

from orgs.models import Membership
from tenancy.rls import cross_org

# Subdomains of the deployment itself, never an org's (org slugs cannot take them).
RESERVED_SUBDOMAINS = frozenset({"portal", "api", "www", "admin", "static", "docs"})


def org_slug_from_host(host: str) -> str | None:
    """``acme`` for ``acme.<base>`` (port ignored); None for the deployment's own hosts."""
    name = host.rsplit(":", 1)[0].lower().rstrip(".") if host.count(":") <= 1 else ""
    suffix = f".{settings.BASE_DOMAIN}".lower()
    if not name.endswith(suffix):
        return None
    label = name[: -len(suffix)]
    if not label or "." in label or label in RESERVED_SUBDOMAINS:
        return None
    return label


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def membership_for_person(
    *, user_id: int, host: str, preferred_org_id: int | None
) -> Membership | None:
    """The active membership the person acts with on ``host``. One query.

    Spans orgs on purpose: it reads one person's own memberships, keyed by that person.
    """
    memberships = list(
        Membership.dangerously_unscoped.select_related("user", "org")
        .filter(user_id=user_id, status=Membership.Status.ACTIVE)
        .order_by("created_at", "pk")
    )
    return pick_membership(memberships, host=host, preferred_org_id=preferred_org_id)


def pick_membership(
    memberships: list[Membership], *, host: str, preferred_org_id: int | None
) -> Membership | None:
    """Among a person's active memberships (oldest first, ``org`` loaded): the subdomain's
    org, else the preferred one, else the oldest."""
    slug = org_slug_from_host(host)
    for wanted in (
        lambda m: slug is not None and m.org.slug == slug,
        lambda m: preferred_org_id is not None and m.org_id == preferred_org_id,
    ):
        for membership in memberships:
            if wanted(membership):
                return membership
    return memberships[0] if memberships else None
