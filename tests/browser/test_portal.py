"""The portal in Debian's Chromium: the issue's flows end to end, an axe-core pass on every
page, and a screenshot of each page for the README (docs/screenshots/)."""

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Browser, Page, expect

from audit.webhooks.delivery import Worker
from tests.factories import PASSWORD, MembershipFactory, OrgFactory, UserFactory
from tests.harness.browser import BASE_DOMAIN, CHROMIUM_ARGS, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def browser(playwright: Any, live_server: Any) -> Any:
    """The harness's Chromium, told that the portal's plain-HTTP test origins are secure:
    the Clipboard API (the copy button, and reading the clipboard back) exists only in
    secure contexts, which a real deployment's https is."""
    port = live_server.thread.port
    origins = ",".join(f"http://{h}.{BASE_DOMAIN}:{port}" for h in ("portal", "acme", "api"))
    chromium = playwright.chromium.launch(
        executable_path=chromium_path(),
        args=[*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={origins}"],
        headless=True,
    )
    yield chromium
    chromium.close()


@pytest.fixture
def acme(db: Any) -> Any:
    return OrgFactory.create(slug="acme", name="Acme")


@pytest.fixture
def people(acme: Any) -> dict[str, Any]:
    return {
        role: MembershipFactory.create(
            org=acme, role=role, user=UserFactory.create(email=f"{name}@acme.test")
        ).user
        for role, name in [
            ("owner", "alice"),
            ("admin", "adam"),
            ("developer", "dev"),
            ("member", "mo"),
            ("viewer", "vic"),
        ]
    }


@pytest.fixture
def as_role(context: Any, page: Page, signed_in: Any, acme: Any, people: dict[str, Any]) -> Any:
    def _as(role: str) -> Page:
        signed_in(context, people[role], acme)
        return page

    return _as


@pytest.fixture
def make_receiver() -> Any:
    from tests.audit.webhooks.receiver import Receiver

    started: list[Receiver] = []

    def make() -> Receiver:
        started.append(Receiver().start())
        return started[-1]

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def api(live_server: Any) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, timeout=10)


def _me_status(api: httpx.Client, key: str) -> int:
    return api.get("/api/users/me", headers={"X-API-Key": key}).status_code


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _create_key(page: Page, portal_url: Any, name: str, scope: str = "", expires: str = "") -> str:
    page.goto(portal_url("portal", "/settings/api-keys/"))
    page.get_by_role("link", name="Create API key").click()
    page.get_by_label("Name", exact=True).fill(name)
    if expires:
        page.get_by_label("Expires on").fill(expires)
    if scope:
        page.get_by_role("checkbox", name=re.compile(f"^{re.escape(scope)} ")).check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("You will not see this key again")).to_be_visible()
    return page.locator("#secret-value").inner_text().strip()


def test_admin_creates_copies_uses_reloads_revokes_a_key(
    as_role: Any, context: Any, portal_url: Any, api: httpx.Client
):
    page = as_role("admin")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    raw = _create_key(page, portal_url, "CI pipeline", scope="org:read", expires="2099-01-01")
    assert raw.startswith("tnt_live_")
    _shot(page, "api-key-created")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == raw
    assert _me_status(api, raw) == 200

    page.reload()  # the key page does not survive a reload
    assert raw not in page.content()
    expect(page.get_by_text("A new key is shown only once")).to_be_visible()

    row = page.locator("tr", has_text="CI pipeline")
    expect(row.get_by_text("2099")).to_have_count(0)  # relative text, the date is in the title
    row.get_by_role("link", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Revoke key CI pipeline (tnt_live_")
    expect(dialog).to_contain_text("Requests with this key will fail immediately")
    _shot(page, "api-key-revoke-confirm")
    dialog.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("revoked", exact=False).first).to_be_visible()
    assert _me_status(api, raw) == 401


def test_roll_keeps_both_keys_working_in_the_grace_period(
    as_role: Any, portal_url: Any, api: httpx.Client
):
    page = as_role("developer")
    old = _create_key(page, portal_url, "svc")
    page.goto(portal_url("portal", "/settings/api-keys/"))
    page.locator("tr", has_text="svc").get_by_role("link", name="Roll").click()
    page.get_by_label("Keep the old key working for").select_option("3600")
    _shot(page, "api-key-roll")
    page.get_by_role("button", name="Roll key").click()
    new = page.locator("#secret-value").inner_text().strip()
    assert new != old
    assert _me_status(api, old) == 200
    assert _me_status(api, new) == 200


def test_developer_sees_only_their_keys(as_role: Any, portal_url: Any, acme: Any, people: Any):
    from apikeys.services import api_key_create
    from audit.actors import Actor
    from orgs.models import Membership

    admin_membership = Membership.objects.for_org(acme).get(user=people["admin"])
    api_key_create(org=acme, actor=Actor.system(), creator=admin_membership, name="admins-key")
    page = as_role("developer")
    _create_key(page, portal_url, "devs-key")
    page.goto(portal_url("portal", "/settings/api-keys/"))
    expect(page.get_by_role("cell", name="devs-key")).to_be_visible()
    expect(page.get_by_role("cell", name="admins-key")).to_have_count(0)
    _shot(page, "api-keys-developer")


def test_viewer_is_told_who_to_ask_and_a_forged_post_is_refused(as_role: Any, portal_url: Any):
    from apikeys.models import APIKey

    page = as_role("viewer")
    response = page.goto(portal_url("portal", "/settings/api-keys/"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_text("Ask an owner or admin of Acme: alice@acme.test")).to_be_visible()
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)  # not in the nav
    _shot(page, "api-keys-viewer-who-to-ask")
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const body = new URLSearchParams({csrfmiddlewaretoken: token, name: "x", env: "live"});
            const r = await fetch("/settings/api-keys/new/", {method: "POST", body});
            return r.status;
        }"""
    )
    assert status == 403
    assert not APIKey.dangerously_unscoped.exists()


def test_invite_accept_in_a_second_context_and_no_owner_promotion(
    as_role: Any, browser: Browser, portal_url: Any, live_server: Any
):
    page = as_role("admin")
    page.goto(portal_url("portal", "/settings/members/"))
    page.get_by_label("Email address").fill("newbie@acme.test")
    page.get_by_label("Role", exact=True).select_option("developer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to newbie@acme.test")).to_be_visible()
    link = re.search(r"https?://\S+/invitations/inv_[\w-]+/", str(mail.outbox[-1].body))
    assert link is not None

    invitee = browser.new_context()
    try:
        # The emailed link opens the accept page; a new person sets a password and joins.
        accept = invitee.new_page()
        accept.goto(link.group(0))
        expect(accept.get_by_role("heading", name="Join")).to_be_visible()
        accept.get_by_label("Your name").fill("Newbie")
        accept.get_by_label("Password").fill(PASSWORD + "!x")
        accept.locator("#accept").click()
        accept.wait_for_url(portal_url("portal", "/"))
    finally:
        invitee.close()

    page.reload()
    row = page.locator("tr", has_text="newbie@acme.test")
    expect(row).to_be_visible()
    row.get_by_label("Role of newbie@acme.test").select_option("owner")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_text("Only an owner can grant the owner role")).to_be_visible()
    _shot(page, "members")


def test_audit_log_shows_filters_and_exports(as_role: Any, portal_url: Any):
    page = as_role("admin")
    _create_key(page, portal_url, "audited")
    page.goto(portal_url("portal", "/settings/audit-log/"))
    expect(page.get_by_role("cell", name="api_key.created")).to_be_visible()
    page.get_by_label("Action").select_option("api_key.revoked")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="api_key.created")).to_have_count(0)
    page.get_by_role("link", name="Clear").click()
    _shot(page, "audit-log")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    path = download.value.path()
    assert path is not None
    text = Path(path).read_text()
    assert text.startswith("id,occurred_at,action")
    assert "api_key.created" in text
    page.goto(portal_url("portal", "/settings/audit-log/"))
    page.get_by_role("link", name=re.compile("^Details")).first.click()
    expect(page.get_by_role("heading", name=re.compile("^Metadata"))).to_be_visible()
    _shot(page, "audit-event")


def test_webhook_test_event_is_delivered_and_logged(
    as_role: Any, portal_url: Any, settings: Any, make_receiver: Any
):
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    receiver = make_receiver()
    page = as_role("admin")
    page.goto(portal_url("portal", "/settings/webhooks/"))
    page.get_by_role("link", name=re.compile("Add (your first )?endpoint")).first.click()
    page.get_by_label("Endpoint URL").fill(receiver.url)
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text("You will not see this secret again")).to_be_visible()
    _shot(page, "webhook-created")
    page.get_by_role("button", name="Send test event").click()
    Worker().run_until_idle()
    types = [json.loads(r.body)["type"] for r in receiver.requests]
    assert "webhook.tested" in types  # (with its own webhook.created, which it hears too)
    page.reload()
    assert "whsec_" not in page.content()  # the secret was shown once
    row = page.locator("tr", has_text="webhook.tested")
    expect(row.get_by_text("succeeded")).to_be_visible()
    _shot(page, "webhook-deliveries")


def test_owner_registers_a_hook_whose_refusal_a_developer_sees_on_the_key_form(
    as_role: Any, portal_url: Any, settings: Any, acme: Any
):
    from apikeys.models import APIKey
    from tests.audit.webhooks.receiver import Receiver
    from tests.hooks.conftest import deny

    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    reason = "Name production keys after their ticket, e.g. OPS-123"
    receiver = Receiver(answer=deny(reason)).start()
    try:
        page = as_role("owner")
        page.goto(portal_url("portal", "/settings/hooks/"))
        page.get_by_role("link", name=re.compile("Add (your first )?hook")).first.click()
        page.get_by_label("Endpoint URL").fill(receiver.url)
        page.get_by_role("checkbox", name=re.compile(r"^api_key\.create")).check()
        page.get_by_role("button", name="Add hook").click()
        expect(page.get_by_text("You will not see this secret again")).to_be_visible()
        page.get_by_role("button", name="Send test call").click()
        expect(page.get_by_text(f"The hook denied the sample write: {reason}")).to_be_visible()
        _shot(page, "hook-created")

        page = as_role("developer")
        page.goto(portal_url("portal", "/settings/api-keys/new/"))
        page.get_by_label("Name", exact=True).fill("billing")
        page.get_by_role("button", name="Create key").click()
        expect(page.get_by_role("alert")).to_contain_text(reason)
        expect(page.get_by_label("Name", exact=True)).to_have_value("billing")
        _shot(page, "hook-denied")
        assert not APIKey.objects.for_org(acme).filter(name="billing").exists()
        assert len(receiver.requests) == 2  # the test call, then the developer's key
    finally:
        receiver.stop()


PAGES = [
    ("overview", "admin", "/"),
    ("api-keys", "admin", "/settings/api-keys/"),
    ("api-key-create", "admin", "/settings/api-keys/new/"),
    ("members", "admin", "/settings/members/"),
    ("audit-log", "admin", "/settings/audit-log/"),
    ("webhooks", "admin", "/settings/webhooks/"),
    ("webhook-create", "admin", "/settings/webhooks/new/"),
    ("hooks", "admin", "/settings/hooks/"),
    ("hook-create", "owner", "/settings/hooks/new/"),
    ("organization", "owner", "/settings/organization/"),
    ("organization-read-only", "developer", "/settings/organization/"),
    ("security", "owner", "/settings/security/"),
    ("security-read-only", "admin", "/settings/security/"),
    ("api-key-policy", "owner", "/settings/api-keys/policy/"),
    ("who-to-ask", "viewer", "/settings/api-keys/"),
    ("account", "member", "/account/"),
]


@pytest.mark.parametrize(("name", "role", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_passes_axe_and_is_photographed(
    as_role: Any, portal_url: Any, acme: Any, people: Any, name: str, role: str, path: str
):
    from apikeys.services import api_key_create
    from audit.actors import Actor
    from orgs.models import Membership

    owner = Membership.objects.for_org(acme).get(user=people["owner"])
    api_key_create(org=acme, actor=Actor.for_user(owner.user), creator=owner, name="Billing")
    page = as_role(role)
    page.goto(portal_url("portal", path))
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert serious == [], results.generate_report()
    page.set_viewport_size({"width": 1280, "height": 800})
    _shot(page, name)
    page.set_viewport_size({"width": 360, "height": 740})
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter(
            e => e.getBoundingClientRect().right > window.innerWidth + 1
            && !(e.parentElement && e.parentElement.closest('.table-wrap'))
        ).slice(0, 8).map(e => e.outerHTML.slice(0, 120))"""
    )
    assert not overflow, f"{path} scrolls sideways at 360 px: {wide}"
    if name in ("api-keys", "audit-log"):
        _shot(page, f"{name}-360px")
