from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import PermissionsMixin
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.managers import UserManager
from orgs.models import Membership, TenantModel


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The email is the login, unique regardless of case."""

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: object, **kwargs: object) -> None:
        self.email = UserManager.normalize_email(self.email)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class TokenFamily(TenantModel):
    """One sign-in: every refresh token rotated from one login, and its access tokens.

    Revoking the family (logout, reuse of a spent refresh token, password change) ends
    them all, access tokens included: they carry the family id and it is checked on each
    request. Removing the membership deletes its families.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["org", "user"], name="tokenfamily_org_user")]

    def __str__(self) -> str:
        return f"family {self.pk} of user {self.user_id}"


class RefreshToken(TenantModel):
    """A one-time refresh token, stored as the SHA-256 of the opaque value handed out."""

    family = models.ForeignKey(TokenFamily, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["org", "family"], name="refreshtoken_org_family")]

    def __str__(self) -> str:
        return f"refresh token {self.pk}"


class BrowserSession(AbstractBaseSession):
    """A browser session (the ``tnt_session`` cookie) in the database, with whose it is.

    Django's own session table knows no user, so a person's sessions could not be listed or
    ended. The session store (``accounts.session_store``) fills the extra columns from the
    session's data on each save, which happens at sign-in and then at most once per
    ``SESSION_TOUCH_SECONDS``. ``key_digest`` is the public handle: the key itself is the
    credential and never leaves the server.
    """

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expire_date"], name="browsersession_user")]

    def __str__(self) -> str:
        return f"browser session {self.key_digest[:12]} of user {self.user_id}"

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        from accounts.session_store import SessionStore

        return SessionStore
