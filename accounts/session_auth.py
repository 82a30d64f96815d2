"""The browser session as an API credential: the ``tnt_session`` cookie on ``api.<base>``."""

from typing import Any

from rest_framework import authentication
from rest_framework.request import Request

from accounts.session_store import ORG_KEY, key_digest
from orgs.context import OrgContext
from orgs.hosts import membership_for_person


class SessionAuthentication(authentication.SessionAuthentication):
    """The signed-in person of the session cookie, acting in one org.

    The org is the subdomain's (``acme.<base>``) when the person is a member there, else
    the session's current org, else their oldest membership; a person with no org has no
    API credential here (the next class, or 401). CSRF is enforced on unsafe methods, as
    DRF's own class does: a cookie alone never authorizes a POST.
    """

    def authenticate(self, request: Request) -> tuple[Any, OrgContext] | None:
        django_request = request._request
        user = getattr(django_request, "user", None)
        if user is None or not user.is_active:
            return None
        session = django_request.session
        membership = membership_for_person(
            user_id=user.pk, host=django_request.get_host(), preferred_org_id=session.get(ORG_KEY)
        )
        if membership is None:
            return None
        self.enforce_csrf(request)
        context = OrgContext(
            membership=membership,
            credential="session",
            credential_id=session_public_id(session.session_key or ""),
        )
        return membership.user, context


def session_public_id(session_key: str) -> str:
    """The handle a session is listed and ended by; the key itself is the credential."""
    return f"bs_{key_digest(session_key)[:24]}"
