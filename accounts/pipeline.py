"""social-auth pipeline steps for Google sign-in (settings.SOCIAL_AUTH_PIPELINE).

Only a verified email gets in; an existing account is linked only by that verified email;
the person then joins the orgs that invited the email or allow its domain. Nobody else is
put in anyone's org: a stranger ends up signed in with no org, and the sign-in page sends
them to create one.
"""

from typing import Any

from social_core.exceptions import AuthException

from accounts.models import User
from accounts.services import user_create
from audit.actors import Actor
from orgs.services import invitations_claim_for_verified_email, memberships_join_by_email_domain


class UnverifiedEmail(AuthException):
    """Google did not say the address is verified: refused, never linked."""

    def __str__(self) -> str:
        return "Google did not confirm this email address"


def require_verified_email(
    backend: Any, details: dict[str, Any], response: dict[str, Any], *args: Any, **kwargs: Any
) -> None:
    email = (details.get("email") or "").strip()
    if not email or response.get("email_verified") is not True:
        raise UnverifiedEmail(backend)


def user_by_verified_email(
    details: dict[str, Any], user: User | None = None, *args: Any, **kwargs: Any
) -> dict[str, Any] | None:
    """An account with this (verified: see the step before) email is the person's."""
    if user is not None:
        return None
    existing = User.objects.filter(email__iexact=details["email"].strip()).first()
    return {"user": existing} if existing is not None else None


def create_user(
    strategy: Any, details: dict[str, Any], user: User | None = None, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    if user is not None:
        return {"is_new": False}
    created = user_create(
        actor=Actor.system("google sign-in"),
        email=details["email"],
        password=None,
        name=(details.get("fullname") or "")[:200],
    )
    return {"is_new": True, "user": created}


def join_orgs(strategy: Any, user: User, *args: Any, **kwargs: Any) -> None:
    actor = Actor.for_user(user, strategy.request)
    invitations_claim_for_verified_email(user=user, actor=actor)
    memberships_join_by_email_domain(user=user, actor=actor)
