from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts import audit_actions
from accounts.managers import UserManager
from accounts.models import User
from audit.actors import Actor
from audit.services import record


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
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError({"email": ["A user with this email already exists"]})
        user = User.objects.create_user(email=email, password=password, name=name)
        record(org_id=org_id, action=audit_actions.USER_CREATED, actor=actor, target=user)
    return user
