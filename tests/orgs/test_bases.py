"""The portal bases of ``orgs.bases``: a signed-in person, the org from the subdomain or the
session, the same role table and OrgContext as the API (credential "session")."""

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.cache import SessionStore
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from orgs.bases import SESSION_ORG_KEY, PortalOrgView, PortalSignedInView
from orgs.context import OrgContext, acting
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


class KeysPage(PortalOrgView):
    required_actions = {"get": "api_key:read", "post": "api_key:write"}

    def get(self, request, *args, **kwargs):
        return HttpResponse(f"{self.org.slug}:{self.org_context.role}")

    def post(self, request, *args, **kwargs):
        names = list(self.scoped(Membership).values_list("user__email", flat=True))
        return HttpResponse(f"{acting(request).label}|{len(names)}")


class AccountPage(PortalSignedInView):
    def get(self, request, *args, **kwargs):
        return HttpResponse("account")


def _call(view_class, request) -> Any:
    return view_class.as_view()(request)


def _request(user, *, method="get", host="portal.localhost", org_id=None):
    request = getattr(RequestFactory(), method)("/settings/api-keys/", HTTP_HOST=host)
    request.user = user
    request.session = SessionStore()
    if org_id is not None:
        request.session[SESSION_ORG_KEY] = org_id
    return request


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.BASE_DOMAIN = "localhost"
    settings.ALLOWED_HOSTS = [".localhost"]


def test_anonymous_is_sent_to_sign_in_and_back():
    response = _call(KeysPage, _request(AnonymousUser()))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/settings/api-keys/")
    assert _call(AccountPage, _request(AnonymousUser())).status_code == 302


def test_the_session_org_gives_the_same_context_as_the_api(org):
    admin = MembershipFactory.create(org=org, role="admin")
    response = _call(KeysPage, _request(admin.user, org_id=org.pk))
    assert response.content == f"{org.slug}:admin".encode()


def test_the_subdomain_names_the_org_before_the_session(org, other_org):
    member = MembershipFactory.create(org=org, role="developer")
    MembershipFactory.create(org=other_org, user=member.user, role="owner")
    request = _request(member.user, host=f"{org.slug}.localhost", org_id=other_org.pk)
    assert _call(KeysPage, request).content == f"{org.slug}:developer".encode()


def test_a_subdomain_of_an_org_one_is_not_in_falls_back_to_the_session(org, other_org):
    member = MembershipFactory.create(org=org, role="admin")
    request = _request(member.user, host=f"{other_org.slug}.localhost", org_id=org.pk)
    assert _call(KeysPage, request).content == f"{org.slug}:admin".encode()


def test_the_session_key_is_the_session_stores():
    from accounts.session_store import ORG_KEY

    assert SESSION_ORG_KEY == ORG_KEY


def test_no_org_sends_the_person_to_the_overview(user):
    response = _call(KeysPage, _request(user))
    assert (response.status_code, response["Location"]) == (302, "/")


def test_a_suspended_member_has_no_org_there(org):
    member = MembershipFactory.create(org=org, role="admin", status="suspended")
    assert _call(KeysPage, _request(member.user, org_id=org.pk)).status_code == 302


def test_the_role_table_decides_each_method(org):
    viewer = MembershipFactory.create(org=org, role="viewer")
    with pytest.raises(PermissionDenied):
        _call(KeysPage, _request(viewer.user, org_id=org.pk))


def test_writes_act_as_the_member_and_queries_stay_in_the_org(org, other_org):
    admin = MembershipFactory.create(org=org, role="admin")
    MembershipFactory.create(org=other_org)
    request = _request(admin.user, method="post", org_id=org.pk)
    response = _call(KeysPage, request)
    assert isinstance(request.auth, OrgContext)
    assert request.auth.credential == "session"
    assert response.content.decode().endswith("|1")


def test_a_method_without_a_declared_action_is_refused(org):
    class NoActions(PortalOrgView):
        def get(self, request, *args, **kwargs):
            return HttpResponse("never")

    owner = MembershipFactory.create(org=org, role="owner")
    with pytest.raises(PermissionDenied):
        _call(NoActions, _request(owner.user, org_id=org.pk))
