"""`make up` as one test: the stack starts the way `make up` starts it, and a key request, a
JWT verified offline against the JWKS, a delivered webhook, an SSE event and a moving metric
all work across its processes."""

import json
import time

import httpx
import jwt

from accounts.management.commands.seed_demo import DEMO_PASSWORD
from tests.audit.webhooks.receiver import Receiver, verify_standard_webhook


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _health_count(web):
    line = 'tenantry_http_requests_total{method="GET",route="/api/users/me",status="200"} '
    rows = [r for r in httpx.get(f"{web}/metrics").text.splitlines() if r.startswith(line)]
    return float(rows[0][len(line) :]) if rows else 0.0


def test_the_stack_serves_every_part_together(stack):
    web = stack.web
    assert httpx.get(f"{web}/api/health/ready").json()["status"] == "ready"

    # A JWT from the demo data, verified offline against the published keys.
    login = httpx.post(f"{web}/api/auth/login", json={
        "email": "admin@acme.test", "password": DEMO_PASSWORD, "org_slug": "acme",
    }).json()  # fmt: skip
    token = login["access_token"]
    jwks = httpx.get(f"{web}/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    assert jwt.decode(token, key, algorithms=["EdDSA"], issuer="tenantry")["org_id"]
    bearer = {"Authorization": f"Bearer {token}"}

    # A key-authenticated request, and the request metric moving.
    before = _health_count(web)
    raw = httpx.post(f"{web}/api/api-keys", json={"name": "stack"}, headers=bearer).json()["key"]
    assert httpx.get(f"{web}/api/users/me", headers={"X-API-Key": raw}).status_code == 200
    assert _health_count(web) == before + 1

    # A webhook delivered by the worker process, and the same event on the SSE stream.
    receiver = Receiver().start()
    try:
        created = httpx.post(f"{web}/api/webhooks", headers=bearer, json={
            "url": receiver.url, "event_types": ["org.updated"],
        })  # fmt: skip
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        with httpx.stream("GET", f"{stack.stream}/api/events/stream", headers=bearer,
                          timeout=20) as stream:  # fmt: skip
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            renamed = httpx.patch(f"{web}/api/org", headers=bearer, json={"name": "Acme Stack"})
            assert renamed.status_code == 200
            for line in lines:
                if line == "event: org.updated":
                    break
        _wait_for(lambda: receiver.requests)
        delivery = receiver.requests[0]
        assert verify_standard_webhook(secret=secret, headers=delivery.headers, body=delivery.body)
        assert json.loads(delivery.body)["type"] == "org.updated"
    finally:
        receiver.stop()


def test_the_servers_connect_as_the_app_role_under_row_security(stack):
    """Every server and worker of the stack is the application role (owns nothing,
    NOBYPASSRLS), so the requests above ran under row-level security; only migrate and the
    demo seed ran as the owner."""
    import psycopg

    assert stack.env()["DATABASE_URL"] == stack.postgres.app_url
    assert httpx.get(f"{stack.web}/api/health/ready").status_code == 200  # pools are open
    with psycopg.connect(stack.postgres.url) as owner:
        members = owner.execute("SELECT count(*) FROM orgs_membership").fetchone()
        assert members is not None
        assert members[0] > 0
        users = owner.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'tenantry'"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
        assert {row[0] for row in users} == {"tenantry_app"}
    with psycopg.connect(stack.postgres.app_url) as app:
        assert app.execute("SELECT count(*) FROM orgs_membership").fetchone() == (0,)


def _csrf(page: str) -> str:
    import re

    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_the_portal_and_the_admin_work_as_the_app_role(stack):
    """Portal pages (a person's org, then org-scoped settings) and the staff console, served
    by the stack's gunicorn under row-level security: each shows the org's rows."""
    with httpx.Client(base_url=stack.web, follow_redirects=True) as browser:
        form = browser.get("/login/")
        signed_in = browser.post("/login/", data={
            "csrfmiddlewaretoken": _csrf(form.text), "email": "admin@acme.test",
            "password": DEMO_PASSWORD, "next": "/settings/members/",
        })  # fmt: skip
        assert signed_in.status_code == 200, signed_in.text[:500]
        assert "owner@acme.test" in signed_in.text  # another member: the org's rows
        for page in ("/", "/settings/api-keys/", "/settings/organization/", "/account/"):
            assert browser.get(page).status_code == 200, page
    with httpx.Client(base_url=stack.web, follow_redirects=True) as staff:
        form = staff.get("/admin/login/")
        staff.post("/admin/login/", data={
            "csrfmiddlewaretoken": _csrf(form.text), "username": "staff@acme.test",
            "password": DEMO_PASSWORD, "next": "/admin/orgs/membership/",
        })  # fmt: skip
        memberships = staff.get("/admin/orgs/membership/")
        assert memberships.status_code == 200
        assert "admin@acme.test" in memberships.text  # listed across orgs, as the staff console


def test_the_operator_commands_run_as_the_app_role(stack):
    """The scheduled and operator commands, with the stack's environment (the app role):
    each takes the listed cross-org path and works under row-level security."""
    import subprocess
    import sys

    from scripts.stack import ROOT

    def manage(*args):
        done = subprocess.run([sys.executable, "manage.py", *args], env=stack.env(), cwd=ROOT,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    created = manage("createapikey", "--org", "acme", "--user", "admin@acme.test", "--name", "ops")
    raw = created.stdout.strip().splitlines()[-1]
    me = httpx.get(f"{stack.web}/api/users/me", headers={"X-API-Key": raw})
    assert me.status_code == 200, me.text
    keys = httpx.get(f"{stack.web}/api/api-keys?limit=100", headers={"X-API-Key": raw}).json()
    key_id = next(k["id"] for k in keys["data"] if k["name"] == "ops")
    manage("revokeapikey", "--org", "acme", "--key", str(key_id))
    assert httpx.get(f"{stack.web}/api/users/me", headers={"X-API-Key": raw}).status_code == 401
    scheduled = [["rollup_usage"], ["purge_audit"], ["flush_expired"], ["revoke_unused_api_keys"]]
    for command in [*scheduled, ["replay_dead_deliveries", "--org", "acme"]]:
        manage(*command)


def test_a_pre_write_hook_decides_a_key_create_served_as_the_app_role(stack):
    """An owner's pre-write hook, registered through the stack's gunicorn (the app role,
    under row-level security, each transaction committed for real): a denying hook refuses
    the key with its reason, nothing is written and the denial is audited; an allowing one
    lets the same create through. (A hook read outside the org's transaction would see no
    hook here, and the key would be written unasked.)"""
    web = stack.web
    login = httpx.post(f"{web}/api/auth/login", json={
        "email": "owner@acme.test", "password": DEMO_PASSWORD, "org_slug": "acme",
    })  # fmt: skip
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    reason = "Keys need a ticket number in their name"
    verdicts = [json.dumps({"allow": False, "reason": reason}).encode()]
    receiver = Receiver(answer=lambda _request: verdicts[-1]).start()
    created = httpx.post(f"{web}/api/hooks", headers=bearer, json={
        "url": receiver.url, "actions": ["api_key.create"], "failure_mode": "closed",
    })  # fmt: skip
    assert created.status_code == 201, created.text
    hook = created.json()
    try:
        denied = httpx.post(f"{web}/api/api-keys", headers=bearer, json={"name": "hooked"})
        assert denied.status_code == 403, denied.text
        assert denied.json()["code"] == "hook_denied"
        assert denied.json()["details"]["reason"] == reason
        [call] = receiver.requests
        assert verify_standard_webhook(secret=hook["secret"], headers=call.headers, body=call.body)
        assert json.loads(call.body)["data"]["object"]["name"] == "hooked"
        keys = httpx.get(f"{web}/api/api-keys?limit=100", headers=bearer).json()["data"]
        assert "hooked" not in [k["name"] for k in keys]
        events = httpx.get(f"{web}/api/audit-events?action=hook.denied", headers=bearer).json()
        assert [(e["target"]["id"], e["metadata"]["reason"]) for e in events["data"]] == [
            (str(hook["id"]), reason)
        ]

        verdicts.append(json.dumps({"allow": True}).encode())
        allowed = httpx.post(f"{web}/api/api-keys", headers=bearer, json={"name": "hooked"})
        assert allowed.status_code == 201, allowed.text
        assert len(receiver.requests) == 2
    finally:
        httpx.delete(f"{web}/api/hooks/{hook['id']}", headers=bearer)
        receiver.stop()
