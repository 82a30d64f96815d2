"""What an authenticated API request acts as: one org, one membership, maybe a key's scopes.

Authentication classes (JWT, API key, session) return ``(user, OrgContext)``; everything
after them asks this object, never the URL or the body, which org is in play.
"""

from dataclasses import dataclass, replace
from typing import Any

from audit.actors import Actor
from orgs.models import Membership, Organization
from orgs.roles import ANY_MEMBER, RequiredAction, actions_for


@dataclass(frozen=True)
class OrgContext:
    membership: Membership
    credential: str  # "jwt", "api_key" or "session"
    scopes: frozenset[str] | None = None  # None: everything the role allows
    credential_id: Any = None  # the token family or key the request came with
    rate_limit: str | None = None  # an API key's own rate limit (orgs.ratelimits), if set

    @property
    def org(self) -> Organization:
        return self.membership.org

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def actions(self) -> frozenset[str]:
        allowed = actions_for(self.membership.role)
        return allowed if self.scopes is None else allowed & self.scopes

    def allows(self, action: str) -> bool:
        return action in self.actions

    def grants(self, required: RequiredAction) -> bool:
        """Whether this context meets a route's requirement (``orgs.bases``): any one of its
        alternatives; ``any_member`` needs nothing beyond the active membership."""
        names = required if isinstance(required, tuple) else (required,)
        return self.membership.is_active and any(
            name == ANY_MEMBER or self.allows(name) for name in names
        )


def org_context(request: Any) -> OrgContext:
    """The OrgContext an authentication class (or ``PortalOrgView``) attached to ``request``
    (asserted present)."""
    context = getattr(request, "auth", None)
    assert isinstance(context, OrgContext)
    return context


def acting(request: Any) -> Actor:
    """The audit actor of an authenticated request, with the request's context: the API key
    when one was used (accountable user: its creator), else the signed-in member."""
    context = org_context(request)
    actor = Actor.for_user(context.membership.user, request)
    if context.credential != "api_key":
        return actor
    return replace(
        actor,
        type="api_key",
        id=str(context.credential_id),
        label=f"API key {context.credential_id} of {actor.label}",
    )
