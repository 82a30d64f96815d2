"""Settings > Security in Chromium: switching JWT sign-in off never locks an owner out of
the portal, where the same owner switches it back on."""

import httpx
import pytest
from playwright.sync_api import expect

from orgs.models import Organization
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.browser

EMAIL = "olive@acme.test"


@pytest.fixture
def olive(org):
    return MembershipFactory.create(
        org=org, role="owner", user=UserFactory.create(email=EMAIL)
    ).user


def _sign_in_with_password(page, portal_url):
    page.goto(portal_url("portal", "/login/"))
    page.fill("#id_email", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def _sign_out(page):
    page.locator("details.person-menu summary").click()
    page.locator("details.person-menu form[action='/logout/'] button").click()
    page.wait_for_url("**/login/")


def _api_login(live_server, org):
    body = {"email": EMAIL, "password": PASSWORD, "org_slug": org.slug}
    return httpx.post(f"{live_server.url}/api/auth/login", json=body, timeout=10)


def test_an_owner_switches_jwt_off_signs_in_again_and_switches_it_back(
    page, portal_url, live_server, org, olive
):
    assert _api_login(live_server, org).status_code == 200
    _sign_in_with_password(page, portal_url)
    page.goto(portal_url("portal", "/settings/security/"))
    switch = page.get_by_label("Allow sign-in tokens (JWT) for the API")
    expect(switch).to_be_checked()
    switch.uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("JWT sign-in for the API is off")).to_be_visible()
    assert Organization.objects.get(pk=org.pk).jwt_enabled is False
    assert _api_login(live_server, org).status_code == 401  # the API's password sign-in

    # A new browser sign-in with the password still works: the portal is not JWT.
    _sign_out(page)
    _sign_in_with_password(page, portal_url)
    page.goto(portal_url("portal", "/settings/security/"))
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    page.get_by_label("Allow sign-in tokens (JWT) for the API").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("JWT sign-in for the API is on")).to_be_visible()
    assert Organization.objects.get(pk=org.pk).jwt_enabled is True
    assert _api_login(live_server, org).status_code == 200


def test_an_admin_sees_the_security_page_read_only(page, portal_url, signed_in, org):
    admin = MembershipFactory.create(
        org=org, role="admin", user=UserFactory.create(email="adam@acme.test")
    ).user
    signed_in(page, admin, org)
    page.goto(portal_url("portal", "/settings/security/"))
    expect(page.get_by_text("Owners change these settings; you can read them")).to_be_visible()
    expect(page.get_by_label("Allow sign-in tokens (JWT) for the API")).to_have_count(0)
