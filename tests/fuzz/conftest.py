import pytest
from django.core.cache import cache

from accounts.services import browser_session_open
from apikeys.services import api_key_create
from audit.actors import Actor, RequestContext


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Calls go through the real WSGI handler, which closes the database connection at the
    end of each request; Django's test client disconnects that so the test's transaction
    (and its rollback) spans the calls. So do we."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """Thousands of requests from one address in a minute: the limits are tested elsewhere,
    here they would only turn the probes' 401s into 429s."""
    from django.conf import settings as live

    for name in dir(live):
        if name.endswith("_RATE") or name.startswith("RATE_LIMIT_"):
            setattr(settings, name, "1000000/m")
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_calls_out(monkeypatch):
    """Fuzzed pre-write hooks have fuzzed URLs, and none is ever called from here: each
    call is answered in process with an allow, so the writes behave as without hooks and
    one example's hook never changes what a later example's write answers (the stateful
    run replays examples and needs them to). Denials, timeouts and the 403 hook_denied are
    tested with a real receiver in tests/hooks/."""
    from audit.webhooks.transport import Answer

    def allow(*args, **kwargs):
        return Answer(status=200, body=b'{"allow": true}')

    monkeypatch.setattr("hooks.calls.exchange", allow)
    # Every example of a run shares the org, so hooks pile up across examples; at the cap
    # of an org's hooks a create would answer 422 where an earlier run of the same example
    # got 201, and Hypothesis's replay could not draw the same rules. The cap is tested in
    # tests/hooks/test_api.py.
    monkeypatch.setattr("hooks.services.MAX_HOOKS_PER_ORG", 10**9)


@pytest.fixture
def credentials(org, as_member):
    """Call kwargs for one credential kind of an owner of ``org``."""
    owner = as_member(org, role="owner")
    _, raw_key = api_key_create(
        org=org, actor=Actor.system(), creator=owner.membership, name="fuzz"
    )
    session_key = browser_session_open(
        user=owner.membership.user, org_id=org.pk, context=RequestContext()
    )

    def _kwargs(kind, case):
        # A real client sends one credential: drop what was generated for the document's
        # security schemes (a random X-API-Key beside our JWT is a 401, by design). The one
        # we send goes on the case itself, where ignored_auth can take it away again.
        case.headers = {
            k: v
            for k, v in (case.headers or {}).items()
            if k.lower() not in ("authorization", "x-api-key", "cookie")
        }
        case.cookies = {k: v for k, v in (case.cookies or {}).items() if k != "tnt_session"}
        if kind == "jwt":
            case.headers["Authorization"] = f"Bearer {owner.pair.access_token}"
        elif kind == "api_key":
            case.headers["X-API-Key"] = raw_key
        elif kind == "session":
            case.cookies["tnt_session"] = session_key
        # Ours, not generated: ignored_auth then probes the same case without it, and with
        # a broken one, and expects a 401.
        case._has_explicit_auth = kind != "none"
        # The WSGI test client sends no client address; every server does.
        return {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}}

    return _kwargs
