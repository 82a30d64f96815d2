"""`bench/run.py --plans`: PostgreSQL's plans of the three credential statements, as served.

Each statement runs as the server runs it: as the application role (row-level security in
force) and as a prepared statement, whose plan PostgreSQL may make GENERIC (blind to the
parameters and to the org the policy reads) after five executions. Both plans are printed,
each with ``EXPLAIN (ANALYZE, BUFFERS)`` after a warm-up, and written to
bench/profiles/plans.txt: a plan that reads more than a handful of buffers for one
credential is the bug to look for.
"""

from pathlib import Path
from typing import Any

MODES = ("force_generic_plan", "force_custom_plan")


def statements(seeded: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """(label, SQL with %s placeholders, parameters) of the key, JWT and session lookups for
    the bench's admin, exactly as the credential classes build them."""
    from accounts import selectors, session_auth
    from accounts.tokens import read_access_token
    from apikeys import authentication, crypto
    from orgs.models import Membership

    claims = read_access_token(seeded["access_token"])
    parsed = crypto.parse(seeded["key"])
    assert parsed is not None
    digests = crypto.candidate_digests(parsed.raw)
    active = Membership.Status.ACTIVE.value
    cookie = seeded.get("session_cookie", "")
    with_row = []
    if cookie:
        from django.utils import timezone

        session_key = cookie.partition("=")[2]
        with_row += [
            (
                "session cookie, its acting org (accounts/session_auth.py)",
                session_auth._SESSION_IN_ACTING_ORG,
                [session_key, timezone.now()],
            ),
            (
                "session cookie, the definer's choice (accounts/session_auth.py)",
                session_auth._SESSION_AND_MEMBERSHIP,
                [None, session_key, timezone.now()],
            ),
        ]
    return [
        (
            "API key, first use (apikeys/authentication.py)",
            authentication._key_lookup(len(digests)),
            authentication._key_params(digests),
        ),
        (
            "API key, its org known (steady state)",
            authentication._key_lookup_in_known_org(len(digests)),
            [str(claims.org_id), *digests],
        ),
        (
            "JWT (accounts/selectors.py)",
            selectors._ENTERING_ORG,
            [str(claims.org_id), claims.family_id, claims.user_id, active],
        ),
        (
            "session cookie (accounts/session_auth.py)",
            session_auth._SIGNED_IN_MEMBERSHIP,
            [claims.user_id, "bench", claims.org_id],
        ),
        *with_row,
    ]


def explain(app_url: str, seeded: dict[str, Any], out: Path) -> str:
    import psycopg
    from psycopg import sql

    sections = []
    with psycopg.connect(app_url, autocommit=True) as connection:
        role = connection.execute("SELECT current_user").fetchone()
        sections.append(f"Connected as {role[0] if role else '?'} (row-level security in force).")
        for label, text, params in statements(seeded):
            numbered = _numbered(text)
            values = sql.SQL(", ").join(sql.Literal(p) for p in params).as_string(connection)
            sections.append(f"=== {label}\n{numbered}")
            for mode in MODES:
                with connection.transaction():
                    connection.execute(f"SET LOCAL plan_cache_mode = {mode}")
                    connection.execute(f"PREPARE credential AS {numbered}")
                    for _ in range(6):  # past the five custom plans PostgreSQL starts with
                        connection.execute(f"EXECUTE credential({values})")
                    rows = connection.execute(
                        f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE credential({values})"
                    ).fetchall()
                    connection.execute("DEALLOCATE credential")
                sections.append(f"--- {mode}\n" + "\n".join(row[0] for row in rows))
    report = "\n\n".join(sections) + "\n"
    out.write_text(report)
    return report


def _numbered(text: str) -> str:
    """%s placeholders as $1, $2, ... (PREPARE's)."""
    parts = text.split("%s")
    return "".join(
        part + (f"${number}" if number < len(parts) else "")
        for number, part in enumerate(parts, start=1)
    )
