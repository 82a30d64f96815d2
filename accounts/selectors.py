from accounts.credential_rows import (
    MEMBER_COLUMNS,
    MEMBER_JOINS,
    MEMBER_WIDTH,
    fetch_row,
    membership_from_row,
)
from accounts.models import TokenFamily
from accounts.tokens import read_access_token
from orgs.models import Membership

# One statement, compiled once: the member's active membership in the token's org (with user
# and org), and whether the token's sign-in (family) is still live.
_MEMBERSHIP_FOR_TOKEN = (
    f"SELECT {MEMBER_COLUMNS}, EXISTS (SELECT 1 FROM {TokenFamily._meta.db_table} f"  # noqa: S608
    " WHERE f.id = %s AND f.org_id = m.org_id AND f.user_id = m.user_id"
    " AND f.revoked_at IS NULL)"
    f" FROM {Membership._meta.db_table} m {MEMBER_JOINS}"
    " WHERE m.org_id = %s AND m.user_id = %s AND m.status = %s"
)


def membership_for_access_token(raw: str) -> tuple[Membership, int] | None:
    """The live membership an access token acts as and its sign-in (family) id, in one
    query; None if the member left,
    was suspended or deactivated, or the token's sign-in was ended.

    Raises AccessTokenExpired / AccessTokenInvalid for a token that fails verification.
    """
    claims = read_access_token(raw)
    row = fetch_row(
        _MEMBERSHIP_FOR_TOKEN,
        [claims.family_id, claims.org_id, claims.user_id, Membership.Status.ACTIVE.value],
    )
    if row is None or not row[MEMBER_WIDTH]:  # no active membership, or the sign-in ended
        return None
    membership = membership_from_row(row)
    if not membership.user.is_active:
        return None
    return membership, claims.family_id
