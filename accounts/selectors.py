from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.credential_rows import (
    MEMBER_COLUMNS,
    MEMBER_JOINS,
    fetch_row,
    in_org,
    membership_from_row,
)
from accounts.models import BrowserSession, TokenFamily, User
from accounts.tokens import read_access_token
from orgs.models import Membership

# One statement, compiled once: the member's active membership in the token's org (with user
# and org), found only while the token's sign-in (family) is live. The sign-in is joined by its
# primary key, not asked about in an EXISTS: under row-level security PostgreSQL's generic plan
# of a prepared statement turned that EXISTS into a hashed subplan that read every sign-in of
# the org through the policy's org_id index (2.7 ms with 36,000 sign-ins, against 0.04 ms;
# bench/profiles/plans.txt).
_MEMBERSHIP_FOR_TOKEN = (
    f"SELECT {MEMBER_COLUMNS} FROM {Membership._meta.db_table} m"  # noqa: S608
    f" JOIN {TokenFamily._meta.db_table} f ON f.id = %s AND f.org_id = m.org_id"
    " AND f.user_id = m.user_id AND f.revoked_at IS NULL"
    f" {MEMBER_JOINS}"
)
_WHERE_MEMBER = "m.user_id = %s AND m.status = %s"
_IN_CALLERS_ORG = f"{_MEMBERSHIP_FOR_TOKEN} WHERE m.org_id = %s AND {_WHERE_MEMBER}"
# On PostgreSQL the same statement first names the token's org (signed: the token's own
# claim) for the transaction, then reads under its row-level security (tenancy.rls).
_ENTERING_ORG = (
    in_org(
        "set_config('app.org_id', %s, true)::bigint",
        f"{_MEMBERSHIP_FOR_TOKEN} WHERE m.org_id = s.org AND {_WHERE_MEMBER}",
    )
    if connection.vendor == "postgresql"
    else _IN_CALLERS_ORG
)


def membership_for_access_token(raw: str, *, enter: bool = True) -> tuple[Membership, int] | None:
    """The live membership an access token acts as and its sign-in (family) id, in one
    query; None if the member left,
    was suspended or deactivated, or the token's sign-in was ended.

    Raises AccessTokenExpired / AccessTokenInvalid for a token that fails verification.
    """
    claims = read_access_token(raw)
    active = Membership.Status.ACTIVE.value
    if enter:
        # The signed token names its org: this transaction's (tenancy.rls).
        sql = _ENTERING_ORG
        params = [str(claims.org_id), claims.family_id, claims.user_id, active]
        if sql is _IN_CALLERS_ORG:
            params = [claims.family_id, claims.org_id, claims.user_id, active]
    else:
        # Verifying another's token: the lookup stays in the caller's org.
        sql, params = _IN_CALLERS_ORG, [claims.family_id, claims.org_id, claims.user_id, active]
    row = fetch_row(sql, params)
    if row is None:  # no active membership, or the sign-in ended
        return None
    membership = membership_from_row(row)
    if not membership.user.is_active:
        return None
    return membership, claims.family_id


# --- A person's sessions: browser sessions and API sign-ins ------------------------------

BROWSER_PREFIX = "bs_"
API_PREFIX = "tf_"


@dataclass(frozen=True)
class SessionRow:
    id: str
    kind: str  # "browser" or "api"
    created_at: datetime | None
    last_seen_at: datetime | None
    ip: str | None
    user_agent: str
    current: bool
    org_id: int | None = None  # an API sign-in is in one org; a browser session in none


def sessions_list(*, user: User, current_id: str | None) -> list[SessionRow]:
    """The person's live browser sessions and API sign-ins, newest first."""
    now = timezone.now()
    rows = [
        SessionRow(
            id=f"{BROWSER_PREFIX}{s.key_digest[:24]}",
            kind="browser",
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            ip=s.ip,
            user_agent=s.user_agent,
            current=f"{BROWSER_PREFIX}{s.key_digest[:24]}" == current_id,
        )
        for s in BrowserSession.objects.filter(user=user, expire_date__gt=now)
    ]
    # Spans orgs on purpose: a person's own sign-ins, keyed by the person.
    families = TokenFamily.dangerously_unscoped.filter(user=user, revoked_at__isnull=True)
    for family in families.order_by("-created_at"):
        rows.append(
            SessionRow(
                id=f"{API_PREFIX}{family.pk}",
                kind="api",
                created_at=family.created_at,
                last_seen_at=None,
                ip=None,
                user_agent="",
                current=f"{API_PREFIX}{family.pk}" == current_id,
                org_id=family.org_id,
            )
        )
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(rows, key=lambda r: r.created_at or epoch, reverse=True)
