"""The base of every portal page: a signed-in person acting in one org.

The org comes from the subdomain (``<slug>.<BASE_DOMAIN>``) when the person belongs to it,
else from the session's current org (the switcher sets ``SESSION_ORG_KEY``), else the
person's first org. The page then acts with the same ``OrgContext`` (credential
``"session"``) as the API, and asks the same role table (``orgs.roles``) for the action
each HTTP method needs. Not allowed: a 403 page naming who can help. Another org's object:
a 404, because every lookup goes through ``Model.objects.for_org(org)``.
"""

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from audit.actors import Actor
from orgs.bases import SESSION_ORG_KEY, PortalOrgView
from orgs.context import OrgContext, acting
from orgs.hosts import org_slug_from_host
from orgs.models import Membership, Organization
from orgs.roles import ROLE_ACTIONS, RequiredAction, Role
from tenancy.rls import cross_org


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    actions: tuple[str, ...]  # any one of them opens the page


# The left navigation: each page with the actions that open it (the views ask the same).
NAV: tuple[NavItem, ...] = (
    NavItem("API keys", "portal-api-keys", ("api_key:read",)),
    NavItem("Members", "portal-members", ("member:read",)),
    NavItem("Audit log", "portal-audit-log", ("audit:read", "audit:read_own")),
    NavItem("Webhooks", "portal-webhooks", ("webhook:read",)),
    NavItem("Hooks", "portal-hooks", ("security:read",)),
    NavItem("Organization", "portal-organization", ("org:read",)),
    NavItem("Security", "portal-security", ("security:read",)),
)


@dataclass
class Chrome:
    """What the layout shows around a page: the person, their orgs, the current one."""

    user: Any
    memberships: list[Membership] = field(default_factory=list)
    current: Membership | None = None
    path: str = ""

    @property
    def org(self) -> Organization | None:
        return self.current.org if self.current else None

    @property
    def context(self) -> OrgContext | None:
        if self.current is None:
            return None
        return OrgContext(membership=self.current, credential="session")

    @property
    def nav(self) -> list[dict[str, Any]]:
        """The settings pages this person's role may open, the current one marked."""
        context = self.context
        if context is None:
            return []
        items = []
        for item in NAV:
            if any(context.allows(a) for a in item.actions):
                url = reverse(item.url_name)
                items.append(
                    {"label": item.label, "url": url, "current": self.path.startswith(url)}
                )
        return items


@cross_org()  # spans orgs: tenancy.rls's one cross-org path
def chrome_for(request: HttpRequest) -> Chrome | None:
    """The signed-in person's orgs and the one this request acts in (cached per request).
    One query: the person's active memberships with their orgs."""
    cached = getattr(request, "_portal_chrome", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    # Spans orgs on purpose: one person's own memberships, keyed by the person.
    memberships = list(
        Membership.dangerously_unscoped.filter(user=user, status=Membership.Status.ACTIVE)
        .select_related("org", "user")
        .order_by("created_at", "pk")
    )
    chrome = Chrome(
        user=user,
        memberships=memberships,
        current=_pick(request, memberships),
        path=request.path,
    )
    request._portal_chrome = chrome  # type: ignore[attr-defined]
    return chrome


def _pick(request: HttpRequest, memberships: list[Membership]) -> Membership | None:
    slug = org_slug_from_host(request.get_host())
    if slug is not None:
        for membership in memberships:
            if membership.org.slug.lower() == slug:
                return membership
    wanted = request.session.get(SESSION_ORG_KEY)
    for membership in memberships:
        if membership.org_id == wanted:
            return membership
    return memberships[0] if memberships else None


def portal_context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``portal`` (the layout's Chrome), computed on first use."""
    return {"portal": SimpleLazyObject(lambda: chrome_for(request))}


def who_can_help(org: Organization, *, limit: int = 3, roles: list[str] | None = None) -> list[str]:
    """Emails of the active members who can change roles (``member:write``: owners and
    admins), or of ``roles`` when only they may do what was refused (a security setting:
    owners), highest role first: the people a refused person should ask."""
    roles = roles or role_names(("member:write",))
    members = sorted(
        Membership.objects.for_org(org)
        .filter(role__in=roles, status=Membership.Status.ACTIVE)
        .select_related("user")
        .order_by("created_at")[:20],
        key=lambda m: -Role(m.role).rank,
    )
    return [m.user.email for m in members[:limit]]


def role_names(actions: tuple[str, ...]) -> list[str]:
    return [r.value for r in Role if any(a in ROLE_ACTIONS[r] for a in actions)]


class PortalView(PortalOrgView):
    """A settings page acting in one org: ``orgs.bases.PortalOrgView`` (the role check of
    ``required_actions``, fail closed, ``request.auth`` set to the OrgContext), with the
    layout's one-query org resolution, the org picker for a person with no org, and the
    403 page that names who can help."""

    chrome: Chrome

    def resolve_org_context(self, request: HttpRequest) -> OrgContext | None:
        chrome = chrome_for(request)
        if chrome is None or chrome.current is None:
            return None
        self.chrome = chrome
        return OrgContext(membership=chrome.current, credential="session")

    def no_org(self, request: HttpRequest) -> HttpResponse:
        return render(request, "portal/no_org.html", status=403)

    def forbidden(self, request: HttpRequest, action: RequiredAction | None) -> HttpResponse:
        names = (action,) if isinstance(action, str) else tuple(action or ())
        org = self.org
        roles = role_names(names)
        # Owners alone hold it (security settings): only they can help, not admins.
        owners_only = roles == [Role.OWNER.value]
        return render(
            request,
            "portal/forbidden.html",
            {
                "org": org,
                "ask": who_can_help(org, roles=roles if owners_only else None),
                "ask_whom": "an owner" if owners_only else "an owner or admin",
                "roles": roles,
                "your_role": self.org_context.role,
            },
            status=403,
        )

    @property
    def membership(self) -> Membership:
        return self.org_context.membership

    def allows(self, action: str) -> bool:
        return self.org_context.allows(action)

    def actor(self) -> Actor:
        """The audit actor, exactly as the API's (``orgs.context.acting``)."""
        return acting(self.request)

    def render_page(
        self, template: str, context: dict[str, Any] | None = None, *, status: int = 200
    ) -> HttpResponse:
        return render(
            self.request,
            template,
            {"org": self.org, "ctx": self.org_context, **(context or {})},
            status=status,
        )
