"""The shared browser harness: a live server on the test PostgreSQL + Redis, and Debian's
Chromium driven by Playwright, with every ``*.tenantry.test`` host mapped to 127.0.0.1.

How to use it (in ``tests/browser/test_*.py``)::

    import pytest

    pytestmark = pytest.mark.browser

    def test_members_page_lists_me(page, portal_url, signed_in, org, owner):
        signed_in(page, owner, org)                  # a real session + the cookie, no login form
        page.goto(portal_url("portal", "/settings/members/"))
        assert page.get_by_role("heading", name="Members").is_visible()

Fixtures:

- ``live_server`` (pytest-django): a threaded WSGI server of the project on a free 127.0.0.1
  port. Requesting it makes the test transactional: rows must be committed to be seen by the
  server, and every table is emptied after the test.
- ``browser``: one Chromium per test module (launching costs about a second).
- ``context`` / ``page``: a fresh browser context (its own cookie jar) and a page in it, per
  test. Open more with ``browser.new_context()`` for "two devices"; close what you open.
- ``portal_url(host, path="/")``: ``http://<host>.tenantry.test:<port><path>``; ``host`` is
  ``"portal"``, ``"api"``, an org slug, or a full ``*.tenantry.test`` name.
- ``google``: settings pointing Google sign-in at a local OpenID provider; returns it, with
  ``google.set_user(sub, email=..., email_verified=True, name=...)``. Its authorization page
  asks for the subject: fill ``input[name=sub]`` and press "Authorize".
- ``signed_in(page_or_context, user, org=None)``: signs ``user`` in by opening a real session
  in the session store (as the sign-in page would, acting in ``org``) and setting the session
  cookie for ``.tenantry.test`` in that context. Returns the session key.

Every test here runs with ``BASE_DOMAIN=tenantry.test`` (and the cookie domain, allowed hosts
and trusted origins that follow from it). Browser tests carry ``@pytest.mark.browser`` and run
inside ``make test``; ``pytest -m browser`` runs only them, ``-m "not browser"`` skips them.
"""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.harness.browser import BASE_DOMAIN, CHROMIUM_ARGS, chromium_path
from tests.harness.oidc import Provider, oidc_provider


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Playwright's sync API keeps an asyncio loop "running" in this thread for as long as it
    # is started, and Django refuses ORM calls from a thread with a running loop. The test
    # bodies are plain synchronous code, so the check is lifted while (and only while) a
    # browser module runs; the module scope ends the loop before other tests run.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            yield p
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture(autouse=True)
def _browser_deployment(request: pytest.FixtureRequest, settings: Any) -> None:
    """The deployment the browser sees: BASE_DOMAIN=tenantry.test on the live server's port."""
    if "live_server" not in request.fixturenames:
        return
    live_server = request.getfixturevalue("live_server")
    port = live_server.thread.port
    settings.BASE_DOMAIN = BASE_DOMAIN
    settings.ALLOWED_HOSTS = [f".{BASE_DOMAIN}", "localhost", "127.0.0.1"]
    settings.SESSION_COOKIE_DOMAIN = f".{BASE_DOMAIN}"
    settings.CSRF_COOKIE_DOMAIN = f".{BASE_DOMAIN}"
    settings.CSRF_TRUSTED_ORIGINS = [f"http://*.{BASE_DOMAIN}:{port}"]
    settings.PORTAL_URL = f"http://portal.{BASE_DOMAIN}:{port}"
    from django.core.cache import cache

    cache.clear()  # every test starts with fresh rate-limit counters


@pytest.fixture
def context(browser: Browser, live_server: Any) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def portal_url(live_server: Any) -> Callable[..., str]:
    port = live_server.thread.port

    def _url(host: str = "portal", path: str = "/") -> str:
        name = host if host.endswith(f".{BASE_DOMAIN}") else f"{host}.{BASE_DOMAIN}"
        return f"http://{name}:{port}{path}"

    return _url


def _open_browser_session(user: Any, org: Any) -> str:
    """A signed-in session in the configured store, as the sign-in page leaves it."""
    from accounts.sessions import browser_session_open
    from audit.actors import RequestContext

    context = RequestContext(ip="127.0.0.1", user_agent="tests/browser signed_in")
    return browser_session_open(user=user, org_id=getattr(org, "pk", None), context=context)


@pytest.fixture
def signed_in(live_server: Any) -> Callable[..., str]:
    def _signed_in(target: Page | BrowserContext, user: Any, org: Any = None) -> str:
        from django.conf import settings

        ctx = target.context if isinstance(target, Page) else target
        key = _open_browser_session(user, org)
        ctx.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": key,
                    "domain": f".{BASE_DOMAIN}",
                    "path": "/",
                    "httpOnly": True,
                    "secure": False,
                    "sameSite": "Lax",
                }
            ]
        )
        return key

    return _signed_in


@pytest.fixture(scope="session")
def _oidc_provider() -> Iterator[Provider]:
    with oidc_provider() as provider:
        yield provider


@pytest.fixture
def google(_oidc_provider: Provider, settings: Any) -> Provider:
    settings.SOCIAL_AUTH_GOOGLE_OIDC_KEY = "tenantry-test-client"
    settings.SOCIAL_AUTH_GOOGLE_OIDC_SECRET = "tenantry-test-secret"
    settings.SOCIAL_AUTH_GOOGLE_OIDC_OIDC_ENDPOINT = _oidc_provider.url
    return _oidc_provider
