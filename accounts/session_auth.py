"""The browser session as an API credential: the ``tnt_session`` cookie on ``api.<base>``."""

from typing import Any

from django.db import connection
from rest_framework import authentication
from rest_framework.request import Request

from accounts.credential_rows import MEMBER_COLUMNS, MEMBER_JOINS, membership_from_row
from accounts.session_store import ORG_KEY, key_digest
from orgs.context import OrgContext
from orgs.hosts import pick_membership
from orgs.models import Membership
from tenancy.rls import cross_org


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
        membership = pick_membership(
            _memberships_of(user.pk),
            host=django_request.get_host(),
            preferred_org_id=session.get(ORG_KEY),
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


# A person's active memberships with their user and org, in one statement. On PostgreSQL the
# rows come from tenantry_person_memberships (SECURITY DEFINER, orgs migration 0006: the one
# cross-org read of a session's request), keyed by the person alone.
_PERSON_MEMBERSHIPS = (
    f"SELECT {MEMBER_COLUMNS} FROM tenantry_person_memberships(%s) m {MEMBER_JOINS}"  # noqa: S608
    " ORDER BY m.created_at, m.id"
)


def _memberships_of(user_id: Any) -> list[Membership]:
    if connection.vendor != "postgresql":
        with cross_org():
            return list(
                Membership.dangerously_unscoped.select_related("user", "org")
                .filter(user_id=user_id, status=Membership.Status.ACTIVE)
                .order_by("created_at", "pk")
            )
    with connection.cursor() as cursor:
        cursor.execute(_PERSON_MEMBERSHIPS, [user_id])
        return [membership_from_row(row) for row in cursor.fetchall()]


def session_public_id(session_key: str) -> str:
    """The handle a session is listed and ended by; the key itself is the credential."""
    return f"bs_{key_digest(session_key)[:24]}"
