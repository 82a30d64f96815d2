import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit_actions
from accounts.errors import InvalidCredentials
from accounts.managers import UserManager
from accounts.models import User
from accounts.sessions import end_browser_sessions
from accounts.signin import revoke_all_families
from accounts.signing_keys import new_seed
from audit.actors import Actor, RequestContext
from audit.services import record
from orgs.invitations import InvitationInvalid, invitation_claim, invitation_lock
from orgs.models import Membership


def user_create(
    *, actor: Actor, email: str, password: str | None, name: str = "", org_id: int | None = None
) -> User:
    """Create a user (``password=None`` for a Google-only account). Atomic, audited.

    Raises ValidationError for a malformed or taken email or a weak password; the password
    itself never reaches the audit row.
    """
    email = UserManager.normalize_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": ["Invalid email"]}) from exc
    if password is not None:
        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():  # the unique email index decides, also under races
                user = User.objects.create_user(email=email, password=password, name=name)
        except IntegrityError as exc:
            raise ValidationError({"email": ["A user with this email already exists"]}) from exc
        record(org_id=org_id, action=audit_actions.USER_CREATED, actor=actor, target=user)
    return user


def password_change(
    *, user: User, current_password: str, new_password: str, actor: Actor, org_id: int | None
) -> int:
    """Set a new password and end every sign-in of the user, everywhere. Atomic, audited
    once (never with either password). Returns how many sign-ins were ended."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": ["Incorrect password"]})
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        ended = revoke_all_families(user, reason="password_changed")
        sessions = end_browser_sessions(user)
        record(
            org_id=org_id,
            action=audit_actions.USER_PASSWORD_CHANGED,
            actor=actor,
            target=user,
            metadata={"families_revoked": ended, "sessions_ended": sessions},
        )
    return ended


def password_reset_finish(*, user: User, new_password: str, context: RequestContext) -> None:
    """Set the password of someone who proved control of their mailbox (a reset link),
    ending every sign-in and browser session they had. Atomic, audited (no password, no
    token). The caller validated the password (Django's SetPasswordForm)."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        families = revoke_all_families(user, reason="password_reset")
        sessions = end_browser_sessions(user)
        record(
            org_id=None,
            action=audit_actions.USER_PASSWORD_RESET,
            actor=Actor.for_user(user, context=context),
            target=user,
            metadata={"families_revoked": families, "sessions_ended": sessions},
        )


def invitation_accept(
    *, raw_token: str, password: str, name: str, context: RequestContext
) -> Membership:
    """Accept an invitation as its email's user, creating the account if there is none.

    The token proves control of the mailbox; an existing account must also prove itself
    with its password. Atomic; audited as invitation.accepted (plus user.created when the
    account is new).
    """
    with transaction.atomic():
        invitation = invitation_lock(raw_token)
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            user = user_create(
                actor=Actor.system("invitation"),
                email=invitation.email,
                password=password,
                name=name,
                org_id=invitation.org_id,
            )
        elif not user.is_active or not user.check_password(password):
            raise InvalidCredentials
        return invitation_claim(
            invitation=invitation, user=user, actor=Actor.for_user(user, context=context)
        )


def jwt_key_generate(*, actor: Actor) -> tuple[str, str]:
    """A new JWT signing key ``(kid, seed)`` for the operator to deploy. Audited (the kid
    only, never the seed); nothing is stored: the deployment's settings hold the keys."""
    kid = "j" + timezone.now().strftime("%Y%m%d") + secrets.token_hex(2)
    with transaction.atomic():
        record(
            org_id=None,
            action=audit_actions.JWT_KEY_GENERATED,
            actor=actor,
            target_type="jwt_key",
            target_label=kid,
            metadata={"kid": kid},
        )
    return kid, new_seed()


def invitation_accept_signed_in(
    *, raw_token: str, user: User, context: RequestContext
) -> Membership:
    """Accept an invitation as the signed-in ``user``, whose email must be the invited one
    (a signed-in person with another email is refused, never joined). Atomic, audited as
    invitation.accepted."""
    with transaction.atomic():
        invitation = invitation_lock(raw_token)
        if invitation.email != user.email.lower():
            raise InvitationInvalid
        return invitation_claim(
            invitation=invitation, user=user, actor=Actor.for_user(user, context=context)
        )
