"""`bench/run.py --server-cost`: what one credential statement costs PostgreSQL itself.

Under load PostgreSQL shares the machine's cores with the workers, so the CPU its backend
spends on a request's statement is taken from them. Each statement runs here as the server
runs it (as the application role, row-level security in force, prepared, one statement per
implicit transaction), in a loop, and the backend's own CPU time is read from
``/proc/<backend pid>/schedstat`` (nanoseconds on the CPU) before and after; the client's
CPU (psycopg parsing the row) and the wall time per round trip are printed beside it.
Statements are measured in interleaved rounds, medians printed, and the report is written to
bench/profiles/server_cost.txt.
"""

import statistics
import time
from pathlib import Path
from typing import Any

from bench.plans import _numbered, statements


def floor_statement(seeded: dict[str, Any]) -> tuple[str, str, list[Any]]:
    import hashlib

    from bench.views import FLOOR_TABLE

    digest = hashlib.sha256(seeded["key"].encode()).hexdigest()
    return (
        "floor (bench/views.py)",
        f"SELECT id, org_id FROM {FLOOR_TABLE} WHERE digest = %s",
        [digest],
    )


def variants(seeded: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """Where the API key statement's time goes: the SECURITY DEFINER lookup alone, then the
    statement with one more table each time (the same ``in_org`` shape, row-level security
    in force), to set beside the full statement."""
    from accounts.credential_rows import MEMBERSHIP, ORG, USER, in_org
    from apikeys import authentication, crypto

    parsed = crypto.parse(seeded["key"])
    assert parsed is not None
    digests = crypto.candidate_digests(parsed.raw)
    listed = ", ".join(["%s"] * len(digests))
    enter = f"tenantry_enter_org_by_key_hash(ARRAY[{listed}]::text[])"
    where = f"WHERE k.org_id = s.org AND k.key_hash IN ({listed})"
    key = "FROM apikeys_apikey k"
    member = f"{key} JOIN orgs_membership m ON m.id = k.membership_id AND m.org_id = k.org_id"
    user = f"{member} JOIN accounts_user u ON u.id = m.user_id"
    params = authentication._key_params(digests)
    org_without_jsonb = ORG.sql.replace(', o."settings", o."allowed_email_domains"', "")
    return [
        ("key: the definer lookup alone", f"SELECT {enter}", list(digests)),
        (
            "key: lookup + key",
            in_org(enter, f"SELECT {authentication._KEY.sql} {key} {where}"),
            params,
        ),
        (
            "key: lookup + key, membership",
            in_org(enter, f"SELECT {authentication._KEY.sql}, {MEMBERSHIP.sql} {member} {where}"),
            params,
        ),
        (
            "key: lookup + key, membership, user",
            in_org(
                enter,
                f"SELECT {authentication._KEY.sql}, {MEMBERSHIP.sql}, {USER.sql} {user} {where}",
            ),
            params,
        ),
        (
            "key: all four, org without its jsonb",
            authentication._key_lookup(len(digests)).replace(ORG.sql, org_without_jsonb),
            params,
        ),
    ]


def session_variants(seeded: dict[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """Where the session statement's time goes: the session's row alone, and the memberships
    function alone (the definer's part of the statement that calls it), beside the two
    statements themselves (``statements``)."""
    from django.utils import timezone

    from accounts.models import BrowserSession
    from accounts.tokens import read_access_token

    cookie = seeded.get("session_cookie", "")
    if not cookie:
        return []
    session_key = cookie.partition("=")[2]
    user_id = read_access_token(seeded["access_token"]).user_id
    return [
        (
            "session: its row alone",
            f"SELECT session_data, user_id, acting_org_id FROM {BrowserSession._meta.db_table}"
            " WHERE session_key = %s AND expire_date > %s",
            [session_key, timezone.now()],
        ),
        (
            "session: the memberships function alone",
            "SELECT id FROM tenantry_person_memberships(%s) LIMIT 1",
            [user_id],
        ),
    ]


def _backend_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def measure(
    app_url: str,
    seeded: dict[str, Any],
    out: Path,
    *,
    executions: int = 4000,
    rounds: int = 5,
    extra: list[tuple[str, str, list[Any]]] | None = None,
) -> str:
    """Per statement (text and binary results): the backend's CPU, the client's CPU and the
    wall time per execution, in µs (medians of ``rounds`` interleaved rounds)."""
    import psycopg

    cases = [
        floor_statement(seeded),
        *statements(seeded),
        *variants(seeded),
        *session_variants(seeded),
        *(extra or []),
    ]
    results: dict[tuple[str, bool], list[tuple[float, float, float]]] = {}
    with psycopg.connect(app_url, autocommit=True, prepare_threshold=0) as connection:
        row = connection.execute("SELECT pg_backend_pid(), current_user").fetchone()
        assert row is not None
        pid, role = row
        cursors = {binary: connection.cursor(binary=binary) for binary in (False, True)}
        for label, text, params in cases:  # warm up: prepare, plan, caches
            for cursor in cursors.values():
                for _ in range(50):
                    cursor.execute(text, params, prepare=True)
                    assert cursor.fetchone() is not None, label
        for _ in range(rounds):
            for label, text, params in cases:
                for binary, cursor in cursors.items():
                    server, client = _backend_ns(pid), time.process_time()
                    started = time.perf_counter()
                    for _ in range(executions):
                        cursor.execute(text, params, prepare=True)
                        cursor.fetchone()
                    wall = time.perf_counter() - started
                    results.setdefault((label, binary), []).append(
                        (
                            (_backend_ns(pid) - server) / 1e3 / executions,
                            (time.process_time() - client) * 1e6 / executions,
                            wall * 1e6 / executions,
                        )
                    )
        # Whether PostgreSQL kept one generic plan per statement or planned it again on each
        # execution (a custom plan): planning would be most of such a statement's cost.
        plan_counts = connection.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        ).fetchall()
    lines = [
        f"Connected as {role} (row-level security in force); each statement prepared, "
        f"{executions} executions a round, median of {rounds} interleaved rounds; µs per "
        "execution: PostgreSQL backend CPU (/proc/<pid>/schedstat), client CPU (psycopg), "
        "wall time of the round trip.",
        "",
        f"{'statement':44s} {'results':>7s} {'backend':>8s} {'client':>8s} {'wall':>8s}",
    ]
    for (label, binary), samples in results.items():
        backend, client, wall = (statistics.median(s[i] for s in samples) for i in range(3))
        kind = "binary" if binary else "text"
        lines.append(f"{label[:44]:44s} {kind:>7s} {backend:8.1f} {client:8.1f} {wall:8.1f}")
    plans = {text: (generic, custom) for text, generic, custom in plan_counts}
    lines += ["", "plans used (pg_prepared_statements, text and binary results together):"]
    for label, text, _params in cases:
        numbered = _numbered(text)
        generic = sum(g for t, (g, _c) in plans.items() if t == numbered)
        custom = sum(c for t, (_g, c) in plans.items() if t == numbered)
        lines.append(f"{label[:44]:44s} generic {generic:7d}  custom {custom:3d}")
    report = "\n".join(lines) + "\n"
    out.write_text(report)
    return report
