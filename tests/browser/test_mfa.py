"""Two-factor authentication in Chromium: enrolling an app on the account page, signing in
with its code after the password, a recovery code, and an org's requirement walking a member
through enrollment before the portal opens."""

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from accounts.models import BrowserSession
from audit.models import AuditEvent
from tests.factories import PASSWORD, MembershipFactory, OrgFactory, UserFactory
from tests.mfa_helpers import code_from_secret, code_now, enroll, wrong_code

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(page: Page, name: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def acme(db: Any) -> Any:
    return OrgFactory.create(slug="acme", name="Acme")


@pytest.fixture
def ada(acme: Any) -> Any:
    return MembershipFactory.create(org=acme, user=UserFactory.create(email="ada@acme.test")).user


def _password(page: Page, portal_url: Any) -> None:
    page.goto(portal_url("portal", "/login/"))
    page.fill("#id_email", "ada@acme.test")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def _no_serious_axe_violations(page: Page) -> None:
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert serious == [], results.generate_report()


def _signed_in_users() -> set[int]:
    return {row.user_id for row in BrowserSession.objects.all() if row.user_id}


def test_enroll_on_the_account_page_then_sign_in_with_a_code(
    browser: Any, page: Page, portal_url: Any, signed_in: Any, ada: Any, acme: Any
):
    signed_in(page, ada, acme)
    page.goto(portal_url("portal", "/account/"))
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.locator("#mfa-qr svg")).to_be_visible()
    _no_serious_axe_violations(page)
    secret = page.inner_text("#mfa-secret")
    page.get_by_label("Code from the app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator("#recovery-codes li").count() == 10
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page.locator("#mfa .badge")).to_have_text("On")

    # Another browser: the password alone opens nothing; the code step finishes the sign-in.
    other = browser.new_context()
    try:
        fresh = other.new_page()
        _password(fresh, portal_url)
        assert fresh.url == portal_url("portal", "/login/code/")
        expect(fresh.get_by_text("Signing in as ada@acme.test")).to_be_visible()
        _no_serious_axe_violations(fresh)
        _shot(fresh, "sign-in-code")
        fresh.get_by_label("Code").fill(wrong_code(ada))
        fresh.get_by_role("button", name="Verify").click()
        expect(fresh.locator("#code-error")).to_have_text("Invalid code")
        assert len(other.cookies()) >= 1
        sessions_before = BrowserSession.objects.filter(user=ada).count()
        fresh.get_by_label("Code").fill(code_now(ada))
        fresh.get_by_role("button", name="Verify").click()
        fresh.wait_for_load_state()
        assert fresh.url == portal_url("portal", "/")
        assert BrowserSession.objects.filter(user=ada).count() == sessions_before + 1
        fresh.goto(portal_url("portal", "/account/"))
        expect(fresh.get_by_role("heading", name="Account")).to_be_visible()
    finally:
        other.close()
    assert AuditEvent.objects.for_org(acme).filter(action="auth.mfa_failed").count() == 1
    via = AuditEvent.dangerously_unscoped.filter(action="auth.session_started").latest("id")
    assert via.metadata["via"] == "password+totp"


def test_the_half_signed_in_browser_can_use_nothing_else(page: Page, portal_url: Any, ada: Any):
    enroll(ada)
    _password(page, portal_url)
    assert page.url == portal_url("portal", "/login/code/")
    page.goto(portal_url("portal", "/account/"))
    assert page.url.startswith(portal_url("portal", "/login/?next="))
    response = page.goto(portal_url("api", "/api/users/me"))
    assert response is not None
    assert response.status == 401
    assert ada.pk not in _signed_in_users()


def test_a_recovery_code_signs_in_once(browser: Any, portal_url: Any, ada: Any):
    codes = enroll(ada)
    for attempt in ("first", "second"):
        ctx = browser.new_context()
        try:
            page = ctx.new_page()
            _password(page, portal_url)
            page.get_by_label("Code").fill(codes[0])
            page.get_by_role("button", name="Verify").click()
            page.wait_for_load_state()
            if attempt == "first":
                assert page.url == portal_url("portal", "/")
                expect(page.get_by_text("You signed in with a recovery code")).to_be_visible()
            else:
                assert page.url == portal_url("portal", "/login/code/")
                expect(page.locator("#code-error")).to_have_text("Invalid code")
        finally:
            ctx.close()


def test_an_org_requirement_walks_a_member_through_enrollment(
    page: Page, portal_url: Any, ada: Any, acme: Any
):
    acme.mfa_required = True
    acme.save()
    _password(page, portal_url)
    assert page.url == portal_url("portal", "/login/enroll/")
    expect(page.get_by_text("Acme requires a second factor")).to_be_visible()
    expect(page.locator("#mfa-qr svg")).to_be_visible()
    _no_serious_axe_violations(page)
    _shot(page, "sign-in-enroll")
    # Not signed in yet: the portal stays shut until the app is confirmed.
    assert ada.pk not in _signed_in_users()
    secret = page.inner_text("#mfa-secret")
    page.get_by_label("Code from the app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Turn on and sign in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator("#recovery-codes li").count() == 10
    _no_serious_axe_violations(page)
    _shot(page, "recovery-codes")
    page.get_by_role("link", name="I have saved them, continue").click()
    page.wait_for_load_state()
    assert page.url == portal_url("portal", "/")
    assert ada.pk in _signed_in_users()
    page.goto(portal_url("portal", "/account/"))
    expect(page.locator("#mfa .badge")).to_have_text("On")


def test_google_sign_in_is_trusted_to_googles_own_second_factor(
    page: Page, portal_url: Any, google: Any, ada: Any, acme: Any
):
    """The org's requirement binds password sign-in: Google sign-in (and a person's own app)
    does not ask for a code."""
    acme.mfa_required = True
    acme.save()
    enroll(ada)
    google.set_user("ada", email="ada@acme.test", email_verified=True, name="Ada")
    page.goto(portal_url("portal", "/login/"))
    page.click("#google-sign-in")
    page.wait_for_url("**/oauth2/authorize?**")
    page.fill("input[name=sub]", "ada")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_load_state()
    assert page.url == portal_url("portal", "/")
    assert ada.pk in _signed_in_users()
