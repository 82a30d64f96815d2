"""The whole Google redirect dance in Chromium, against a local OpenID provider."""

import json
import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from accounts.models import User
from audit.models import AuditEvent
from orgs.models import Membership
from tests.factories import MembershipFactory, OrgFactory, UserFactory

pytestmark = pytest.mark.browser


def _google_sign_in(page, portal_url, sub, next_path=""):
    query = f"?next={next_path}" if next_path else ""
    page.goto(portal_url("portal", f"/login/{query}"))
    page.click("#google-sign-in")
    page.wait_for_url("**/oauth2/authorize?**")
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_load_state()


def _session_cookie(context):
    cookies = {c["name"]: c for c in context.cookies("http://portal.tenantry.test")}
    return cookies.get(settings.SESSION_COOKIE_NAME)


def test_a_member_signs_in_with_google_and_lands_where_next_says(
    page, context, portal_url, google, org
):
    member = MembershipFactory.create(org=org, user=UserFactory.create(email="ada@acme.test"))
    google.set_user("ada", email="ada@acme.test", email_verified=True, name="Ada")
    _google_sign_in(page, portal_url, "ada", next_path="/api/users/me")
    assert page.url == portal_url("portal", "/api/users/me")
    assert f'"email": "{member.user.email}"'.replace(" ", "") in page.inner_text("body").replace(
        " ", ""
    )
    assert AuditEvent.dangerously_unscoped.filter(
        action="auth.session_started", metadata__via="google"
    ).exists()


def _acts_in(page, portal_url):
    """The org the browser's session acts in, as the API sees it (cookie only)."""
    page.goto(portal_url("api", "/api/org"))
    return json.loads(page.inner_text("body"))


def test_an_invited_email_joins_the_org_that_invited_it(page, portal_url, google, org):
    from audit.actors import Actor
    from orgs.services import invitation_create

    invitation_create(
        org=org, actor=Actor.system(), by=None, email="grace@elsewhere.test", role="developer"
    )
    google.set_user("grace", email="grace@elsewhere.test", email_verified=True, name="Grace")
    _google_sign_in(page, portal_url, "grace", next_path="/api/users/me")
    user = User.objects.get(email="grace@elsewhere.test")
    membership = Membership.objects.for_org(org).get(user=user)
    assert membership.role == "developer"
    assert _acts_in(page, portal_url)["slug"] == org.slug
    assert AuditEvent.dangerously_unscoped.filter(
        action="invitation.accepted", org_id=org.pk
    ).exists()


def test_an_allowed_domain_joins_as_the_orgs_default_role(page, portal_url, google):
    acme = OrgFactory.create(
        slug="acme", allowed_email_domains=["acme.test"], default_role="viewer"
    )
    google.set_user("linus", email="linus@acme.test", email_verified=True, name="Linus")
    _google_sign_in(page, portal_url, "linus", next_path="/api/users/me")
    membership = Membership.objects.for_org(acme).get(user__email="linus@acme.test")
    assert membership.role == "viewer"
    event = AuditEvent.dangerously_unscoped.get(action="member.joined_via_domain")
    assert (event.org_id, event.metadata["domain"]) == (acme.pk, "acme.test")
    assert _acts_in(page, portal_url)["slug"] == "acme"


def test_an_unverified_email_is_refused_and_never_linked(page, context, portal_url, google, org):
    existing = MembershipFactory.create(org=org, user=UserFactory.create(email="eve@acme.test"))
    google.set_user("eve", email="eve@acme.test", email_verified=False, name="Eve")
    _google_sign_in(page, portal_url, "eve")
    assert "Google did not confirm this email address" in page.inner_text("h1")
    from social_django.models import UserSocialAuth

    assert not UserSocialAuth.objects.filter(user=existing.user).exists()
    assert not User.objects.filter(email="eve@acme.test").exclude(pk=existing.user_id).exists()
    page.goto(portal_url("api", "/api/users/me"))
    assert json.loads(page.inner_text("body"))["code"] == "unauthorized"


def test_a_stranger_is_offered_to_create_an_org_then_lands_in_it(page, portal_url, google, org):
    google.set_user("sam", email="sam@nowhere.test", email_verified=True, name="Sam")
    _google_sign_in(page, portal_url, "sam", next_path="/api/users/me")
    assert page.url == portal_url("portal", "/orgs/new/")
    assert "not a member of any organization" in page.inner_text("body"), page.content()
    sam = User.objects.get(email="sam@nowhere.test")
    assert not Membership.dangerously_unscoped.filter(user=sam).exists()  # never in someone's org
    page.fill("#id_name", "Sam's Lab")
    page.fill("#id_slug", "sams-lab")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_load_state()
    assert page.url == portal_url("portal", "/")
    membership = Membership.dangerously_unscoped.get(user=sam)
    assert (membership.org.slug, membership.role) == ("sams-lab", "owner")
    assert _acts_in(page, portal_url)["slug"] == "sams-lab"
    assert AuditEvent.dangerously_unscoped.filter(
        action="org.created", org_id=membership.org_id
    ).exists()


def _callback_url(page, portal_url, google, sub):
    """Run the dance up to the provider's redirect back, and return that URL unvisited."""
    captured = {}

    def hold(route):
        if route.request.method != "POST":
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        captured["url"] = response.headers["location"]
        route.fulfill(status=200, body="held")

    page.route("**/oauth2/authorize?**", hold)
    page.goto(portal_url("portal", "/login/"))
    page.click("#google-sign-in")
    page.wait_for_url("**/oauth2/authorize?**")
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_load_state()
    page.unroute("**/oauth2/authorize?**")
    assert urlsplit(captured["url"]).path.startswith("/oauth/complete/")
    return captured["url"]


def test_a_tampered_state_is_refused_with_a_clear_page(page, portal_url, google, org):
    MembershipFactory.create(org=org, user=UserFactory.create(email="ada@acme.test"))
    google.set_user("ada", email="ada@acme.test", email_verified=True, name="Ada")
    url = _callback_url(page, portal_url, google, "ada")
    tampered = re.sub(r"state=[^&]+", "state=forged-by-an-attacker", url)
    response = page.goto(tampered)
    assert response is not None
    assert response.status == 400
    assert "could not be completed" in page.inner_text("h1")
    page.goto(portal_url("api", "/api/users/me"))
    assert json.loads(page.inner_text("body"))["code"] == "unauthorized"


def test_a_replayed_callback_is_refused(page, portal_url, google, org):
    MembershipFactory.create(org=org, user=UserFactory.create(email="ada@acme.test"))
    google.set_user("ada", email="ada@acme.test", email_verified=True, name="Ada")
    url = _callback_url(page, portal_url, google, "ada")
    page.goto(url)
    assert page.url == portal_url("portal", "/")
    page.goto(portal_url("api", "/api/users/me"))
    assert json.loads(page.inner_text("body"))["email"] == "ada@acme.test"
    replay = page.goto(url)
    assert replay is not None
    assert replay.status == 400
    assert "could not be completed" in page.inner_text("h1")
