import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import TokenPair
from orgs.models import Membership
from tests.factories import MembershipFactory, OrgFactory, UserFactory
from tests.harness.asgi import database_env


class MemberClient(APIClient):
    """An APIClient that remembers whose JWT it carries."""

    membership: Membership
    pair: TokenPair


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's cost is the point in production and pure waiting in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every API request spends rate-limit buckets in the shared Redis (per key, person,
    client address and org): each test starts with fresh ones, as a new minute would."""
    from django.core.cache import cache

    from orgs.ratelimits import forget_local_state
    from usage import counters

    counters.flush()  # an earlier test's pending usage counts, before Redis is emptied
    cache.clear()
    forget_local_state()  # and what this process held of the buckets Redis just forgot
    yield
    counters.flush()  # nothing left pending when the session's Redis stops


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def org(db):
    return OrgFactory.create()


@pytest.fixture
def other_org(db):
    return OrgFactory.create()


@pytest.fixture
def owner(org):
    return MembershipFactory.create(org=org, role="owner").user


@pytest.fixture
def user(db):
    return UserFactory.create()


@pytest.fixture
def subprocess_env(db):
    """Environment for a child `manage.py` that must use this session's test database."""
    return database_env()


@pytest.fixture
def sign_in():
    """Open a real sign-in for a membership; returns the TokenPair (as login would)."""
    from accounts.services import open_session
    from audit.actors import RequestContext

    def _sign_in(membership):
        return open_session(membership=membership, context=RequestContext(), via="test")

    return _sign_in


@pytest.fixture
def as_member(sign_in):
    """An APIClient authenticated with a fresh JWT of a new member with ``role`` in ``org``."""

    def _as_member(org, role="member", **user_fields):
        membership = MembershipFactory.create(
            org=org, role=role, user=UserFactory.create(**user_fields)
        )
        client = MemberClient()
        pair = sign_in(membership)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair.access_token}")
        client.membership = membership
        client.pair = pair
        return client

    return _as_member


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.fixture
def max_data_queries():
    """Like django_assert_max_num_queries, but BEGIN/COMMIT/SAVEPOINT are not counted:
    a budget is about the statements that read or write rows."""
    from contextlib import contextmanager

    from django.test.utils import CaptureQueriesContext

    @contextmanager
    def _budget(limit):
        with CaptureQueriesContext(connection) as captured:
            yield captured
        # A prepared credential lookup is logged without its text (psycopg keeps none).
        statements = [
            q["sql"] or "(prepared statement)" for q in captured.captured_queries
            if not (q["sql"] or "").upper().startswith(_TRANSACTION_CONTROL)
        ]  # fmt: skip
        assert len(statements) <= limit, "\n".join(
            [f"{len(statements)} queries, budget {limit}:", *statements]
        )

    return _budget


@pytest.fixture
def portal_member():
    """A Django test Client signed in (session) as a new member with ``role`` in ``org``,
    acting in that org (the session's current org), as the portal's switcher would set it."""
    from django.test import Client

    from orgs.portal import SESSION_ORG_KEY

    def _portal_member(org, role="member", **user_fields):
        membership = MembershipFactory.create(
            org=org, role=role, user=UserFactory.create(**user_fields)
        )
        client = Client()
        client.force_login(membership.user)
        session = client.session
        session[SESSION_ORG_KEY] = org.pk
        session.save()
        client.membership = membership  # type: ignore[attr-defined]
        return client

    return _portal_member
