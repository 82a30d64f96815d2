"""The whole Google redirect dance in Chromium, against a local OpenID provider."""

import pytest
from django.conf import settings

from audit.models import AuditEvent
from tests.factories import MembershipFactory, UserFactory

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
    assert AuditEvent.objects.filter(action="auth.session_started", metadata__via="google").exists()
