"""The session cookie in Chromium: flags, one sign-in across subdomains, CSRF, sliding
expiry, next attacks, sign-out everywhere it is shared, and the active-sessions page."""

import json
import time

import pytest
from django.conf import settings

from accounts.models import BrowserSession
from accounts.session_store import SEEN_KEY, SessionStore
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def ada(org):
    return MembershipFactory.create(org=org, user=UserFactory.create(email="ada@acme.test")).user


def _sign_in(page, portal_url, next_path="", host="portal"):
    query = f"?next={next_path}" if next_path else ""
    page.goto(portal_url(host, f"/login/{query}"))
    page.fill("#id_email", "ada@acme.test")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def _cookie(context):
    jar = {c["name"]: c for c in context.cookies("http://portal.tenantry.test/")}
    return jar.get(settings.SESSION_COOKIE_NAME)


def _me(page, portal_url, host="api"):
    response = page.goto(portal_url(host, "/api/users/me"))
    return response.status, json.loads(page.inner_text("body"))


def test_the_cookie_as_the_browser_stores_it_and_the_api_accepts_it(page, context, portal_url, ada):
    _sign_in(page, portal_url, next_path="/account/")
    assert page.url == portal_url("portal", "/account/")
    cookie = _cookie(context)
    assert cookie is not None
    assert cookie["domain"] == ".tenantry.test"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # local development over http; production: Secure
    assert abs(cookie["expires"] - (time.time() + settings.SESSION_COOKIE_AGE)) < 120
    status, body = _me(page, portal_url, "api")
    assert status == 200
    assert (body["email"], body["credential"]) == ("ada@acme.test", "session")
    # JavaScript cannot read it (HttpOnly).
    assert settings.SESSION_COOKIE_NAME not in page.evaluate("document.cookie")


def test_a_cookie_post_without_the_csrf_token_is_refused(page, portal_url, ada):
    _sign_in(page, portal_url)
    page.goto(portal_url("api", "/api/health"))
    answer = page.evaluate(
        """async () => {
            const r = await fetch('/api/auth/logout-all', {method: 'POST', credentials: 'include'});
            return [r.status, await r.json()];
        }"""
    )
    assert answer[0] == 403
    assert answer[1]["code"] == "forbidden"
    assert _me(page, portal_url)[0] == 200  # still signed in: nothing was ended


def test_the_expiry_slides_forward_with_no_store_write_in_between(
    page, context, portal_url, ada, settings, monkeypatch
):
    settings.SESSION_TOUCH_SECONDS = 300
    _sign_in(page, portal_url)
    first = _cookie(context)
    row = BrowserSession.objects.get(session_key=first["value"])
    saves = []
    original = SessionStore.save

    def counting_save(store, must_create=False):
        saves.append(store.session_key)
        return original(store, must_create=must_create)

    monkeypatch.setattr(SessionStore, "save", counting_save)
    time.sleep(1.1)
    for host in ("api", "portal", "acme"):
        assert _me(page, portal_url, host)[0] == 200
    assert saves == []
    assert _cookie(context)["expires"] == first["expires"]
    same = BrowserSession.objects.get(session_key=first["value"])
    assert (same.expire_date, same.session_data) == (row.expire_date, row.session_data)

    store = SessionStore(session_key=first["value"])  # five minutes and a second later
    store[SEEN_KEY] = store[SEEN_KEY] - 301
    original(store)
    saves.clear()
    assert _me(page, portal_url)[0] == 200
    assert saves == [first["value"]]
    assert _cookie(context)["expires"] > first["expires"]
    assert BrowserSession.objects.get(session_key=first["value"]).expire_date > row.expire_date


@pytest.mark.parametrize(
    "attack",
    [
        "//evil.example/",
        "https://evil.example/",
        "https://portal.tenantry.test.evil.example/",
        "javascript:alert(document.domain)",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
    ],
)
def test_a_foreign_next_lands_at_home(page, portal_url, ada, attack):
    _sign_in(page, portal_url, next_path=attack)
    assert page.url == portal_url("portal", "/")


def test_an_own_subdomain_next_is_followed(page, portal_url, ada):
    _sign_in(page, portal_url, next_path=portal_url("acme", "/account/"))
    assert page.url == portal_url("acme", "/account/")


def test_signing_out_on_one_subdomain_signs_out_on_all(page, portal_url, ada, org):
    _sign_in(page, portal_url)
    page.goto(portal_url(org.slug, "/account/"))
    assert page.get_by_role("heading", name="Account").is_visible()
    page.locator("details.person-menu summary").click()
    page.locator("details.person-menu form[action='/logout/'] button").click()
    page.wait_for_url("**/login/")
    assert _me(page, portal_url, "api")[0] == 401
    page.goto(portal_url("portal", "/account/"))
    assert page.url.startswith(portal_url("portal", "/login/"))


def test_the_sessions_page_lists_two_devices_and_ends_one(browser, portal_url, ada):
    laptop = browser.new_context(user_agent="Laptop Chromium")
    phone = browser.new_context(user_agent="Phone Chromium")
    try:
        laptop_page, phone_page = laptop.new_page(), phone.new_page()
        _sign_in(laptop_page, portal_url)
        _sign_in(phone_page, portal_url)
        laptop_page.goto(portal_url("portal", "/account/"))
        rows = laptop_page.locator("#sessions tbody tr")
        assert rows.count() == 2
        assert "This device" in laptop_page.locator("tr", has_text="Laptop Chromium").inner_text()
        phone_row = laptop_page.locator("tr", has_text="Phone Chromium")
        phone_row.get_by_role("button", name="Sign out").click()
        laptop_page.wait_for_load_state()
        assert laptop_page.locator("#sessions tbody tr").count() == 1
        phone_page.goto(portal_url("portal", "/account/"))
        assert phone_page.url.startswith(portal_url("portal", "/login/"))
        assert _me(laptop_page, portal_url)[0] == 200
    finally:
        laptop.close()
        phone.close()
