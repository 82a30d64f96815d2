"""The session cookie as an API credential (accounts.session_auth): one query for the person
and the membership they act in, and every check Django's own ``get_user`` makes."""

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.test import Client
from django.utils import timezone

from accounts.services import browser_session_open
from accounts.session_store import ORG_KEY, SessionStore
from audit.actors import RequestContext
from orgs.models import Membership
from tests.factories import MembershipFactory, OrgFactory

pytestmark = pytest.mark.django_db


class CookieClient(Client):
    session_key: str


def cookie_client(membership, org_id=None):
    key = browser_session_open(
        user=membership.user, org_id=org_id or membership.org_id, context=RequestContext()
    )
    client = CookieClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    client.session_key = key
    return client


class _CountingLoads:
    """Counts the store's reads of a session (Redis, then the database on a miss)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = SessionStore.load

        def load(store):
            self.calls += 1
            return original(store)

        monkeypatch.setattr(SessionStore, "load", load)


def test_me_with_the_session_cookie_makes_one_query(org, max_data_queries, monkeypatch):
    client = cookie_client(MembershipFactory.create(org=org, role="admin"))
    client.get("/api/users/me")  # the session is in Redis too, as after any request
    loads = _CountingLoads(monkeypatch)
    with max_data_queries(1):
        response = client.get("/api/users/me")
    assert response.status_code == 200
    assert response.json()["credential"] == "session"
    request = response.wsgi_request
    assert request.user.pk == response.json()["id"]  # Django's request.user, from that query
    # One round trip in all: the session came with the person, not from Redis before it,
    # and request.session holds it as the store's load would have left it.
    assert loads.calls == 0
    assert dict(request.session) == dict(SessionStore(session_key=client.session_key).load())
    assert request.session.accessed
    assert not request.session.modified
    assert "Cookie" in response["Vary"]


def _ended(how, client, membership):
    from django.core.cache import caches

    from accounts.models import BrowserSession
    from accounts.services import end_browser_sessions
    from accounts.session_store import CachedDatabaseStore

    assert SessionStore is CachedDatabaseStore  # the suite runs with REDIS_URL set

    key = client.session_key
    if how == "sign_out":
        SessionStore(session_key=key).delete()  # what logout's flush does
    elif how == "sign_out_everywhere":
        end_browser_sessions(membership.user)
    elif how == "password_change":
        membership.user.set_password("another password entirely")
        membership.user.save()
    elif how == "expired":
        # The row's expiry passed; Redis's copy expires with it (its TTL is the same age).
        BrowserSession.objects.filter(session_key=key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
        caches["default"].delete(CachedDatabaseStore.cache_key_prefix + key)
    elif how == "tampered_cookie":
        client.cookies[settings.SESSION_COOKIE_NAME] = key[:-1] + ("a" if key[-1] != "a" else "b")
    elif how == "tampered_data":
        row = BrowserSession.objects.get(session_key=key)
        data = row.session_data
        BrowserSession.objects.filter(session_key=key).update(
            session_data=data[:-2] + ("AA" if not data.endswith("AA") else "BB")
        )
        caches["default"].delete(CachedDatabaseStore.cache_key_prefix + key)
    elif how == "removed_member":
        membership.delete()
    else:  # pragma: no cover
        raise AssertionError(how)


ENDINGS = [
    "sign_out", "sign_out_everywhere", "password_change", "expired",
    "tampered_cookie", "tampered_data", "removed_member",
]  # fmt: skip


@pytest.mark.parametrize("how", ENDINGS)
def test_an_ended_session_fails_on_the_very_next_request(org, how):
    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    assert client.get("/api/users/me").status_code == 200
    _ended(how, client, membership)
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_changed_role_applies_to_the_very_next_request(org):
    membership = MembershipFactory.create(org=org, role="member")
    client = cookie_client(membership)
    assert client.get("/api/users/me").json()["role"] == "member"
    membership.role = "admin"
    membership.save()
    assert client.get("/api/users/me").json()["role"] == "admin"


def test_the_rows_copied_columns_are_never_believed_over_its_data(org, django_user_model):
    # acting_org_id and user_id are copies of the session's data, saved with it; a row whose
    # copies disagree with its data goes Django's way (the session from the store), as if
    # the statement had not been made.
    from accounts.models import BrowserSession

    person = MembershipFactory.create(org=org).user
    second = MembershipFactory.create(org=OrgFactory.create(), user=person)
    client = cookie_client(second, org_id=second.org_id)
    rows = BrowserSession.objects.filter(session_key=client.session_key)
    rows.update(acting_org_id=org.pk)
    assert client.get("/api/users/me").json()["org"]["id"] == second.org_id
    stranger = MembershipFactory.create(org=org).user
    rows.update(acting_org_id=second.org_id, user_id=stranger.pk)
    assert client.get("/api/users/me").json()["id"] == person.pk


def test_the_row_copies_the_org_the_session_acts_in(org):
    from accounts.models import BrowserSession

    client = cookie_client(MembershipFactory.create(org=org))
    row = BrowserSession.objects.get(session_key=client.session_key)
    assert row.acting_org_id == org.pk
    store = SessionStore(session_key=client.session_key)
    store[ORG_KEY] = None
    store.save()
    assert BrowserSession.objects.get(session_key=client.session_key).acting_org_id is None


def test_the_org_is_the_hosts_then_the_sessions_then_the_oldest(org):
    person = MembershipFactory.create(org=org).user
    second = MembershipFactory.create(org=OrgFactory.create(), user=person)
    third = MembershipFactory.create(org=OrgFactory.create(), user=person)
    client = cookie_client(second, org_id=second.org_id)
    assert client.get("/api/users/me").json()["org"]["id"] == second.org_id
    host = f"{third.org.slug}.{settings.BASE_DOMAIN}"
    assert client.get("/api/users/me", HTTP_HOST=host).json()["org"]["id"] == third.org_id
    second.status = Membership.Status.SUSPENDED
    second.save()
    assert client.get("/api/users/me").json()["org"]["id"] == org.pk  # the oldest left


def test_a_removed_member_or_deactivated_person_fails_on_the_next_request(org):
    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    assert client.get("/api/users/me").status_code == 200
    membership.delete()
    assert client.get("/api/users/me").status_code == 401
    other = MembershipFactory.create(org=org)
    client = cookie_client(other)
    assert client.get("/api/users/me").status_code == 200
    other.user.is_active = False
    other.user.save()
    assert client.get("/api/users/me").status_code == 401


def test_a_changed_password_ends_the_session_as_django_would(org):
    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    assert client.get("/api/users/me").status_code == 200
    membership.user.set_password("another password entirely")
    membership.user.save()  # the session's hash no longer matches: Django flushes it
    assert client.get("/api/users/me").status_code == 401
    assert not SessionStore().exists(client.session_key)


def test_a_session_of_an_unknown_backend_is_not_a_credential(org):
    client = cookie_client(MembershipFactory.create(org=org))
    store = SessionStore(session_key=client.session_key)
    store[BACKEND_SESSION_KEY] = "somewhere.else.Backend"
    store.save()
    assert client.get("/api/users/me").status_code == 401


@pytest.fixture
def decodes(monkeypatch):
    """What the session store decoded, in order: ``(signed text, data)`` per decode."""
    decoded = []
    original = SessionStore.decode

    def decode(store, text):
        data = original(store, text)
        decoded.append((text, data))
        return data

    monkeypatch.setattr(SessionStore, "decode", decode)
    return decoded


def test_a_sessions_signed_text_is_decoded_once_and_each_request_gets_its_own_copy(
    org, settings, decodes
):
    client = cookie_client(MembershipFactory.create(org=org))
    first = client.get("/api/users/me")
    second = client.get("/api/users/me")
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(decodes) == 1
    first.wsgi_request.session["changed"] = True
    assert "changed" not in second.wsgi_request.session
    assert "changed" not in client.get("/api/users/me").wsgi_request.session
    # What decoding depends on is part of what it is remembered by.
    settings.SECRET_KEY_FALLBACKS = ["an older key " * 4]
    assert client.get("/api/users/me").status_code == 200
    assert len(decodes) == 2


# --- An ended session stays ended, whatever Redis held -------------------------------------


def _cache_key(key):
    from accounts.session_store import CachedDatabaseStore

    return CachedDatabaseStore.cache_key_prefix + key


def test_a_redis_copy_written_back_before_commit_is_deleted_on_commit(
    org, django_capture_on_commit_callbacks
):
    # Sign out everywhere deletes the row in its transaction and the Redis copy at once; a
    # request in between misses Redis, sees the row (not deleted yet for it) and writes it
    # back. The delete on COMMIT takes that copy away.
    from django.core.cache import caches
    from django.db import transaction

    from accounts.services import end_browser_sessions

    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    stale = caches["default"].get(_cache_key(client.session_key))
    assert stale is not None
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert end_browser_sessions(membership.user) == 1
        caches["default"].set(_cache_key(client.session_key), stale)  # the racing request
    assert caches["default"].get(_cache_key(client.session_key)) is None
    assert client.get("/api/users/me").status_code == 401


def test_a_load_that_missed_redis_does_not_write_redis(org, monkeypatch):
    # The racing request that read the row before COMMIT finishes after the delete on
    # COMMIT: its load must not write what it read into Redis, where pages would read it.
    from django.core.cache import caches

    from accounts.models import BrowserSession
    from accounts.services import end_browser_sessions

    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    key = client.session_key
    assert client.get("/account/").status_code == 200  # the portal, Django's way
    row = BrowserSession.objects.get(session_key=key)  # what the racing request read
    end_browser_sessions(membership.user)
    assert caches["default"].get(_cache_key(key)) is None
    monkeypatch.setattr(SessionStore, "_get_session_from_db", lambda store: row)
    assert SessionStore(session_key=key).load()["_auth_user_id"] == str(membership.user_id)
    monkeypatch.undo()
    assert caches["default"].get(_cache_key(key)) is None
    assert client.get("/account/")["Location"].startswith("/login/")
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.parametrize("touch_due", [False, True])
def test_a_stale_redis_copy_without_a_row_is_no_credential_and_is_not_kept(
    org, settings, touch_due
):
    from django.core.cache import caches

    from accounts.models import BrowserSession
    from accounts.session_store import SEEN_KEY

    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    key = client.session_key
    stale = caches["default"].get(_cache_key(key))
    if touch_due:
        stale[SEEN_KEY] -= settings.SESSION_TOUCH_SECONDS + 1
    BrowserSession.objects.filter(session_key=key).delete()  # the session ended ...
    caches["default"].set(_cache_key(key), stale)  # ... but Redis holds what it was
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # the cookie deleted
    assert caches["default"].get(_cache_key(key)) is None
    assert not BrowserSession.objects.filter(session_key=key).exists()
    assert response.wsgi_request.session.is_empty()
    assert client.get("/account/")["Location"].startswith("/login/")  # pages too


def test_a_live_row_without_a_membership_is_not_an_ended_session(user):
    # Told apart from no row: the person stays signed in (the session kept, the cookie
    # too), with no org to act in: no API credential.
    key = browser_session_open(user=user, org_id=None, context=RequestContext())
    client = CookieClient()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert response.wsgi_request.session["_auth_user_id"] == str(user.pk)
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert SessionStore().exists(key)


# --- What the one statement checks, each on its own ----------------------------------------


def test_a_session_holding_a_secret_is_decoded_but_not_remembered(org, decodes):
    # A new API key or webhook secret sits in the session until the page shows it once;
    # the decoded-data cache must not keep it beyond the request.
    from accounts import session_auth

    client = cookie_client(MembershipFactory.create(org=org))
    store = SessionStore(session_key=client.session_key)
    store["portal_new_api_key"] = {"id": 1, "key": "tnt_live_not_for_memory"}
    store.save()
    for _ in range(2):
        response = client.get("/api/users/me")
        assert response.status_code == 200
        assert response.wsgi_request.session["portal_new_api_key"]["id"] == 1
    assert len(decodes) == 2  # decoded each time: nothing remembered
    assert not any("portal_new_api_key" in data for data in session_auth._decoded_by_text.values())
    del store["portal_new_api_key"]  # shown and popped: the usual data is remembered again
    store.save()
    client.get("/api/users/me")
    client.get("/api/users/me")
    assert len(decodes) == 3


def test_a_row_naming_another_person_is_not_believed_even_when_the_hash_would_match(
    org, django_user_model
):
    # The row's user_id decides whose membership and password the statement reads; a row
    # naming someone whose password hash is the same (so the session's hash matches theirs)
    # must still not sign that someone in: the column is held equal to the data.
    from accounts.models import BrowserSession

    membership = MembershipFactory.create(org=org)
    person = membership.user
    client = cookie_client(membership)
    stranger = MembershipFactory.create(org=org).user
    django_user_model.objects.filter(pk=stranger.pk).update(password=person.password)
    BrowserSession.objects.filter(session_key=client.session_key).update(user_id=stranger.pk)
    response = client.get("/api/users/me")
    assert response.status_code == 200
    assert response.json()["id"] == person.pk


def test_the_one_statement_marks_the_session_accessed(org, rf):
    # What the store's load would have set: the response varies on the cookie. Asserted on
    # the statement's answer itself (the sliding middleware reads the session afterwards).
    from accounts.session_auth import _signed_in

    membership = MembershipFactory.create(org=org)
    client = cookie_client(membership)
    request = rf.get("/api/users/me", HTTP_HOST=f"api.{settings.BASE_DOMAIN}")
    request.session = SessionStore(session_key=client.session_key)
    assert _signed_in(request) is not None
    assert request.session.accessed
    assert not request.session.modified


def test_a_changed_secret_key_decodes_again_and_refuses_the_old_signature(org, settings, decodes):
    client = cookie_client(MembershipFactory.create(org=org))
    assert client.get("/api/users/me").status_code == 200  # decoded and remembered
    assert client.get("/api/users/me").status_code == 200
    assert [bool(data) for _, data in decodes] == [True]
    settings.SECRET_KEY = "a different secret key entirely " * 2
    assert client.get("/api/users/me").status_code == 401
    # decoded again, under the new key: it did not verify
    assert [bool(data) for _, data in decodes] == [True, False]


# --- The common case's statement: the session's acting org, under its row-level security ---


def _statements_sent(captured):
    return [q["sql"] or "" for q in captured.captured_queries if q["sql"] != "BEGIN"]


def test_on_the_api_host_the_acting_orgs_membership_is_read_without_the_definer(
    org, other_org, max_data_queries
):
    # One statement, and not the one that calls tenantry_person_memberships.
    person = MembershipFactory.create(org=org).user
    acting = MembershipFactory.create(org=other_org, user=person)
    client = cookie_client(acting, org_id=other_org.pk)
    client.get("/api/users/me")
    with max_data_queries(1) as captured:
        response = client.get("/api/users/me")
    assert response.json()["org"]["id"] == other_org.pk
    (sql,) = _statements_sent(captured)
    assert "set_config('app.org_id', COALESCE(b.acting_org_id" in sql
    assert "tenantry_person_memberships" not in sql


@pytest.mark.parametrize("why", ["suspended", "no_acting_org", "left_the_acting_org"])
def test_when_the_acting_org_has_no_membership_the_definers_choice_decides(
    org, other_org, why, max_data_queries
):
    # A second statement, the definer's (the host's org, the session's, the oldest): only a
    # session acting nowhere its person may act pays it.
    oldest = MembershipFactory.create(org=org)
    acting = MembershipFactory.create(org=other_org, user=oldest.user)
    client = cookie_client(acting, org_id=other_org.pk)
    client.get("/api/users/me")
    if why == "suspended":
        acting.status = Membership.Status.SUSPENDED
        acting.save()
    elif why == "left_the_acting_org":
        acting.delete()
    else:
        store = SessionStore(session_key=client.session_key)
        store[ORG_KEY] = None
        store.save()
    with max_data_queries(2) as captured:
        response = client.get("/api/users/me")
    assert response.status_code == 200
    assert response.json()["org"]["id"] == org.pk
    first, second = _statements_sent(captured)
    assert "tenantry_person_memberships" not in first
    assert "tenantry_person_memberships" in second


def test_a_host_naming_an_org_wins_over_an_active_acting_org(org, other_org, max_data_queries):
    person = MembershipFactory.create(org=org).user
    acting = MembershipFactory.create(org=other_org, user=person)
    client = cookie_client(acting, org_id=other_org.pk)
    with max_data_queries(1) as captured:
        response = client.get("/api/users/me", HTTP_HOST=f"{org.slug}.{settings.BASE_DOMAIN}")
    assert response.json()["org"]["id"] == org.pk
    (sql,) = _statements_sent(captured)
    assert "tenantry_person_memberships" in sql


def _acting_org_row(session_key):
    from django.utils import timezone

    from accounts.credential_rows import fetch_row
    from accounts.session_auth import _SESSION_IN_ACTING_ORG

    return fetch_row(_SESSION_IN_ACTING_ORG, [session_key, timezone.now()])


def test_the_acting_org_statement_names_its_org_then_reads_under_its_row_security(org, other_org):
    # As the application role (row-level security in force; the suite's own connection
    # bypasses it): the membership is found only because the statement named the acting
    # org before reading it, whatever org the transaction named before; and only that org's.
    from django.db import connection

    from accounts.credential_rows import membership_from_row
    from accounts.session_auth import _SESSION_ROW_WIDTH
    from tenancy.rls import ORG_SETTING
    from tests.tenancy.test_row_security import as_app_role

    person = MembershipFactory.create(org=org).user
    acting = MembershipFactory.create(org=other_org, user=person)
    key = browser_session_open(user=person, org_id=other_org.pk, context=RequestContext())
    for named_before in (None, org.pk):
        with as_app_role() as cursor:
            if named_before is not None:
                cursor.execute("SELECT set_config(%s, %s, true)", [ORG_SETTING, str(org.pk)])
            row = _acting_org_row(key)
            assert row is not None
            assert membership_from_row(row, _SESSION_ROW_WIDTH).pk == acting.pk
            cursor = connection.cursor()
            cursor.execute("SELECT current_setting(%s, true)", [ORG_SETTING])
            assert cursor.fetchone()[0] == str(other_org.pk)
    # Acting in an org the person has no membership in: the row, no membership (not the
    # membership of another org, which the policy hides and the statement does not ask for).
    elsewhere = browser_session_open(
        user=person, org_id=OrgFactory.create().pk, context=RequestContext()
    )
    with as_app_role():
        row = _acting_org_row(elsewhere)
        assert row is not None
        assert row[_SESSION_ROW_WIDTH:] == (None,) * (len(row) - _SESSION_ROW_WIDTH)
    with as_app_role():
        assert _acting_org_row("no-such-session-key-at-all") is None


def test_the_acting_org_statements_plan_reads_the_membership_after_the_sessions_row(org):
    # What the statement's order rests on, in PostgreSQL's generic plan (the one a prepared
    # statement settles on): a nested loop whose outer side reads the session's row alone
    # (its projection runs set_config) and whose inner side, scanned again for each outer
    # row with the row's values as parameters, alone reads the membership, its user and its
    # org. (The trivial subquery scans are removed from the plan; EXPLAIN prints a parameter
    # as the outer expression it was taken from, set_config's included, but it is a value
    # computed once, by the outer row.) Row-level security's check is folded there into a
    # one-time filter, current_setting = the org named, which the inner side evaluates
    # after the outer row named it. A plan that read the membership first (a hash or merge
    # join, the subqueries pulled up) would read it before the org was named.
    import json

    from accounts.session_auth import _SESSION_IN_ACTING_ORG
    from tests.tenancy.test_row_security import as_app_role

    person = MembershipFactory.create(org=org).user
    key = browser_session_open(user=person, org_id=org.pk, context=RequestContext())
    numbered = _SESSION_IN_ACTING_ORG.replace("%s", "$1", 1).replace("%s", "$2", 1)
    with as_app_role() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE acting_org_plan(text, timestamptz) AS {numbered}")
        try:
            cursor.execute("EXPLAIN (FORMAT JSON) EXECUTE acting_org_plan(%s, now())", [key])
            plan = cursor.fetchone()[0]
        finally:
            cursor.execute("DEALLOCATE acting_org_plan")
    top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    def relations(node):
        return {n["Relation Name"] for n in nodes(node) if "Relation Name" in n}

    assert (top["Node Type"], top["Join Type"]) == ("Nested Loop", "Left")
    outer, inner = top["Plans"]
    assert (outer["Parent Relationship"], inner["Parent Relationship"]) == ("Outer", "Inner")
    assert relations(outer) == {"accounts_browsersession"}
    assert relations(inner) == {"orgs_membership", "accounts_user", "orgs_organization"}
    assert all("current_setting" not in json.dumps(n) for n in nodes(outer))
    assert not any(n["Node Type"] in {"Hash", "Materialize", "Memoize"} for n in nodes(inner))


def test_a_remembered_sessions_copy_shares_nothing_a_request_could_change(org):
    # The decoded data is remembered per signed text; each request gets a copy it may
    # change (nested objects included) without the next request seeing it.
    from accounts.session_store import META_KEY

    client = cookie_client(MembershipFactory.create(org=org))
    first = client.get("/api/users/me").wsgi_request.session
    ip = first[META_KEY]["ip"]
    first[META_KEY]["ip"] = "203.0.113.9"
    assert client.get("/api/users/me").wsgi_request.session[META_KEY]["ip"] == ip


def test_the_tailored_copy_is_a_deep_copy():
    import copy

    from accounts.session_auth import _Remembered

    data: dict[str, Any] = {
        "s": "x", "n": 1, "f": 1.5, "b": True, "z": None,
        "flat": {"a": "b", "c": 2},
        "nested": {"a": {"b": [1, 2]}},
        "list": [{"a": 1}],
    }  # fmt: skip
    copied = _Remembered(data).copied()
    assert type(copied) is dict
    assert copied == copy.deepcopy(data) == data
    for name in ("flat", "nested", "list"):
        assert copied[name] is not data[name]
    assert copied["nested"]["a"] is not data["nested"]["a"]
    assert copied["list"][0] is not data["list"][0]


@pytest.mark.parametrize("engine", ["CachedDatabaseStore", "DatabaseStore"])
def test_the_stores_start_as_djangos_would(engine, settings):
    # The stores' __init__ sets what SessionBase's does, without importing the serializer
    # every time: the same attributes (the cache's looked up on first use), same values.
    from django.contrib.sessions.backends import cached_db, db

    from accounts import session_store

    ours = getattr(session_store, engine)("a" * 32)
    django = {"CachedDatabaseStore": cached_db, "DatabaseStore": db}[engine].SessionStore("a" * 32)
    assert set(vars(django)) - set(vars(ours)) <= {"_cache"}
    for name, value in vars(django).items():
        assert getattr(ours, name) is value or getattr(ours, name) == value, name
    settings.SESSION_SERIALIZER = "tests.accounts.test_session_credential.OtherSerializer"
    assert getattr(session_store, engine)().serializer is OtherSerializer


class OtherSerializer:  # (a serializer named by the setting above)
    pass


def test_a_backend_taken_out_of_the_settings_no_longer_signs_its_sessions_in(org, settings):
    # What the statement reads of the settings is read once, and again when one changes.
    from accounts.services import PASSWORD_BACKEND

    client = cookie_client(MembershipFactory.create(org=org))
    assert client.get("/api/users/me").status_code == 200
    settings.AUTHENTICATION_BACKENDS = [
        b for b in settings.AUTHENTICATION_BACKENDS if b != PASSWORD_BACKEND
    ]
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "api.{base}", "acme.{base}", "acme.{base}:8443", "portal.{base}"]
)
def test_the_hosts_org_is_read_as_from_the_validated_host(host, rf, settings):
    from django.core.exceptions import DisallowedHost

    from accounts.session_auth import _host_org_slug
    from orgs.hosts import org_slug_from_host

    request = rf.get("/api/users/me", HTTP_HOST=host.format(base=settings.BASE_DOMAIN))
    assert _host_org_slug(request) == org_slug_from_host(request.get_host())
    # A host that names an org is validated (the one that names none decides nothing).
    settings.ALLOWED_HOSTS = ["127.0.0.1", f"api.{settings.BASE_DOMAIN}"]
    request = rf.get("/api/users/me", HTTP_HOST=f"acme.{settings.BASE_DOMAIN}")
    with pytest.raises(DisallowedHost):
        _host_org_slug(request)


@pytest.mark.parametrize(
    ("given", "expected", "same"),
    [("ab12", "ab12", True), ("ab12", "ab13", False), ("ab1", "ab12", False), ("é", "é", True),
     ("é", "e", False)],
)  # fmt: skip
def test_the_hash_comparison_is_djangos(given, expected, same):
    from django.utils.crypto import constant_time_compare

    from accounts.session_auth import _same

    assert _same(given, expected) is same is constant_time_compare(given, expected)


def test_a_disallowed_host_naming_no_org_is_refused_before_the_session_is_read(org, settings):
    # _host_org_slug does not validate a host that names no org again: the middleware
    # before every view (CommonMiddleware's get_host) has, and refuses it with 400.
    settings.ALLOWED_HOSTS = ["127.0.0.1", f"api.{settings.BASE_DOMAIN}"]
    client = cookie_client(MembershipFactory.create(org=org))
    assert client.get("/api/users/me", HTTP_HOST=f"api.{settings.BASE_DOMAIN}").status_code == 200
    response = client.get("/api/users/me", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "credential" not in response.content.decode()
