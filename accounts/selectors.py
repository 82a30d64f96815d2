from django.db.models import Exists, OuterRef

from accounts.models import TokenFamily
from accounts.tokens import read_access_token
from orgs.models import Membership


def membership_for_access_token(raw: str) -> tuple[Membership, int] | None:
    """The live membership an access token acts as and its sign-in (family) id, in one
    query; None if the member left,
    was suspended or deactivated, or the token's sign-in was ended.

    Raises AccessTokenExpired / AccessTokenInvalid for a token that fails verification.
    """
    claims = read_access_token(raw)
    live_family = TokenFamily.objects.for_org(claims.org_id).filter(
        pk=claims.family_id, user_id=OuterRef("user_id"), revoked_at__isnull=True
    )
    membership = (
        Membership.objects.for_org(claims.org_id)
        .select_related("user", "org")
        .annotate(session_live=Exists(live_family))
        .filter(user_id=claims.user_id, status=Membership.Status.ACTIVE)
        .first()
    )
    if membership is None or not membership.session_live or not membership.user.is_active:
        return None
    return membership, claims.family_id
