"""The bench's data: realistic table sizes, seeded fast (bulk inserts and generate_series).

- org ``bench`` with an owner and an admin; the admin holds the hot API key (made by the
  app's own service, so its digest is real), 50 more keys, a JWT sign-in and many sign-ins
  whose refresh tokens `POST /api/auth/refresh` spends one by one;
- 100 filler orgs with 100 members each, every member with a key (10,000 more key rows);
- ``events`` audit events in the bench org (default 1,000,000), one a second backwards;
- djangorestframework-api-key's table with its own key, and the floor's table of SHA-256
  digests, each as large as ours;
- a trigger that counts every ``last_used_at`` write, to see the once-a-minute bound hold.
"""

import hashlib
import secrets
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection

FILLER_ORGS = 100
MEMBERS_PER_FILLER_ORG = 100
EXTRA_KEYS_OF_ADMIN = 50
PAGE = 20
DEEP_PAGES = 10_000


def seed(*, events: int, work: Path, refresh_files: int, refresh_per_file: int) -> dict[str, Any]:
    from accounts.models import RefreshToken, TokenFamily, User
    from accounts.services import open_session
    from apikeys.models import APIKey
    from apikeys.services import api_key_create
    from audit.actors import Actor, RequestContext
    from audit.selectors import encode_cursor
    from orgs.models import Membership, Organization
    from orgs.opaque_tokens import new_opaque_token
    from orgs.services import membership_add, org_create

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    system = Actor.system("bench")
    owner = User.objects.create_user(email="owner@bench.test", password=None)
    org = org_create(actor=system, slug="bench", name="Bench", owner=owner)
    admin_user = User.objects.create_user(email="admin@bench.test", password=None)
    admin = membership_add(org=org, actor=system, user=admin_user, role="admin", by=None)
    admin = Membership.objects.for_org(org).select_related("user", "org").get(pk=admin.pk)
    hot, raw_key = api_key_create(org=org, actor=system, creator=admin, name="hot")
    access_token = open_session(membership=admin, context=RequestContext(), via="bench")
    print("seeding orgs, members and keys ...", flush=True)
    _random_keys(org, admin, EXTRA_KEYS_OF_ADMIN)
    fillers = Organization.objects.bulk_create(
        Organization(slug=f"filler-{n}", name=f"Filler {n}") for n in range(FILLER_ORGS)
    )
    users = User.objects.bulk_create(
        User(email=f"user{n}@filler.test", password="!")
        for n in range(FILLER_ORGS * MEMBERS_PER_FILLER_ORG)
    )
    memberships = Membership.dangerously_unscoped.bulk_create(
        Membership(org=fillers[n // MEMBERS_PER_FILLER_ORG], user=user, role="developer")
        for n, user in enumerate(users)
    )
    APIKey.dangerously_unscoped.bulk_create(_key_row(m.org, m) for m in memberships)

    refresh_tokens = refresh_files * refresh_per_file
    print(f"seeding {refresh_tokens} sign-ins for refresh ...", flush=True)
    families = TokenFamily.dangerously_unscoped.bulk_create(
        TokenFamily(org=org, user=admin_user, membership=admin) for _ in range(refresh_tokens)
    )
    raw_refresh = []
    rows = []
    for family in families:
        raw, digest = new_opaque_token("rt_")
        raw_refresh.append(raw)
        rows.append(RefreshToken(org=org, family=family, token_hash=digest))
    RefreshToken.dangerously_unscoped.bulk_create(rows, batch_size=5000)

    print(f"seeding {events:,} audit events ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO audit_auditevent (org_id, occurred_at, action, actor_type, actor_id,
                actor_label, target_type, target_id, target_label, ip, user_agent, request_id,
                metadata)
            SELECT %s, now() - make_interval(secs => g), 'api_key.created', 'user', %s,
                'admin@bench.test', 'apikeys.apikey', g::text, 'key ' || g, '203.0.113.7',
                'bench', 'req_bench_' || g, jsonb_build_object('name', 'key ' || g)
            FROM generate_series(1, %s) AS g
            """,
            [org.pk, str(admin_user.pk), events],
        )
    from audit.models import AuditEvent

    deep = (
        AuditEvent.objects.for_org(org)
        .order_by("-occurred_at", "-id")
        .only("occurred_at", "id")[min(PAGE * DEEP_PAGES, events) - 1]
    )  # the cursor the client holds after DEEP_PAGES pages (fewer on a small seed)

    print("seeding the comparison tables ...", flush=True)
    from rest_framework_api_key.models import APIKey as DrfAPIKey

    drf_keys: Any = DrfAPIKey._default_manager
    _, drf_raw = drf_keys.create_key(name="bench")
    with connection.cursor() as cursor:
        # As many rows as our key table, with one index to look a digest up by.
        key_rows = APIKey.dangerously_unscoped.count()
        cursor.execute(
            """
            INSERT INTO rest_framework_api_key_apikey (id, prefix, hashed_key, created, name,
                revoked, expiry_date)
            SELECT 'f' || g || '.x', 'f' || g, encode(sha256(g::text::bytea), 'hex'), now(),
                'filler', false, NULL
            FROM generate_series(1, %s) AS g
            """,
            [key_rows],
        )
        cursor.execute(
            """
            CREATE TABLE bench_floor_key (id bigserial PRIMARY KEY, org_id bigint NOT NULL,
                digest char(64) NOT NULL UNIQUE)
            """
        )
        cursor.execute(
            """
            INSERT INTO bench_floor_key (org_id, digest)
            SELECT %s, encode(sha256(('filler' || g)::bytea), 'hex')
            FROM generate_series(1, %s) AS g
            """,
            [org.pk, key_rows],
        )
        cursor.execute(
            "INSERT INTO bench_floor_key (org_id, digest) VALUES (%s, %s)",
            [org.pk, hashlib.sha256(raw_key.encode()).hexdigest()],
        )
        cursor.execute(
            """
            CREATE TABLE bench_last_used_write (key_id bigint NOT NULL, at timestamptz NOT NULL);
            CREATE FUNCTION bench_count_last_used() RETURNS trigger AS $$
            BEGIN
                INSERT INTO bench_last_used_write VALUES (NEW.id, clock_timestamp());
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER bench_count_last_used AFTER UPDATE OF last_used_at
                ON apikeys_apikey FOR EACH ROW
                WHEN (OLD.last_used_at IS DISTINCT FROM NEW.last_used_at)
                EXECUTE FUNCTION bench_count_last_used();
            """
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    # Each round of POST /api/auth/refresh reads its own slice: a token is spent once.
    files = []
    for start in range(0, len(raw_refresh), refresh_per_file):
        path = work / f"refresh-{start}.txt"
        path.write_text("\n".join(raw_refresh[start : start + refresh_per_file]) + "\n")
        files.append(str(path))

    seeded: dict[str, Any] = {
        "key": raw_key,
        "key_id": hot.pk,
        "access_token": access_token.access_token,
        "drf_api_key": drf_raw,
        "deep_cursor": encode_cursor(deep),
        "refresh_token_files": files,
        "events": events,
        "deep_pages": min(PAGE * DEEP_PAGES, events) // PAGE,
    }
    seeded.update(_session(admin))
    return seeded


def _session(admin: Any) -> dict[str, str]:
    """A signed-in browser's session cookie, when the API accepts sessions."""
    from django.conf import settings

    classes: list[str] = settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]  # type: ignore[assignment]
    if not any("session" in name.lower() for name in classes):
        return {"session_missing": "session auth for the API is not on main yet (issue 9)"}
    from accounts.services import browser_session_open
    from audit.actors import RequestContext

    key = browser_session_open(user=admin.user, org_id=admin.org_id, context=RequestContext())
    with connection.cursor() as cursor:
        # Other browsers' sessions beside it (one per seeded member), so that its row is
        # found among many, as in a deployment, and the planner knows the table's size.
        cursor.execute(
            """
            INSERT INTO accounts_browsersession (session_key, session_data, expire_date,
                key_digest, user_agent)
            SELECT 'filler' || g, 'filler', now() + interval '7 days',
                encode(sha256(('filler' || g)::bytea), 'hex'), ''
            FROM generate_series(1, %s) AS g
            """,
            [FILLER_ORGS * MEMBERS_PER_FILLER_ORG],
        )
        cursor.execute("ANALYZE accounts_browsersession")
    return {"session_cookie": f"{settings.SESSION_COOKIE_NAME}={key}"}


def last_used_writes(key_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_last_used_write WHERE key_id = %s", [key_id])
        return int(cursor.fetchone()[0])


def _random_keys(org: Any, membership: Any, count: int) -> None:
    from apikeys.models import APIKey

    APIKey.dangerously_unscoped.bulk_create(_key_row(org, membership) for _ in range(count))


def _key_row(org: Any, membership: Any) -> Any:
    from apikeys.models import APIKey

    secret = secrets.token_hex(32)
    return APIKey(
        org=org,
        membership=membership,
        created_by_id=membership.user_id,
        name="seeded",
        prefix=f"tnt_live_{secret[:4]}",
        last_four=secret[-4:],
        key_hash=hashlib.sha256(secret.encode()).hexdigest(),
        pepper_id="k1",
    )
