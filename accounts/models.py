from importlib import import_module

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import PermissionsMixin
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.managers import UserManager
from orgs.models import Membership, Organization, TenantModel


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
    # The org the session's data names (``accounts.session_store.ORG_KEY``), copied like
    # ``user`` on each save: the session credential's one statement orders the person's
    # memberships by it before the data is decoded (accounts.session_auth), and holds it
    # equal to the decoded data's. Not a foreign key: a copy, never read on its own.
    acting_org_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expire_date"], name="browsersession_user")]

    def __str__(self) -> str:
        return f"browser session {self.key_digest[:12]} of user {self.user_id}"

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        # The configured engine (accounts.session_store), named by the setting: the store
        # already knows this model, so the model does not import it back.
        store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
        return store


class RecoveryCode(models.Model):
    """One single-use recovery code of a person's second factor (GitHub's, Auth0's).

    Stored as an HMAC-SHA-256 keyed from SECRET_KEY over the user id and the code
    (``accounts.mfa.recovery_code_digest``): a copy of the table alone gives no code back,
    and a code of one person is no code of another. The person's, not an org's: no org_id.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="recoverycode_user_hash")
        ]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of user {self.user_id}"


class MfaChallenge(models.Model):
    """Half a sign-in: the password was right, and a second factor is still owed.

    The raw token (``mfa_...``: the API's ``mfa_token``, or kept in the anonymous session of
    the portal's code page) is handed out once; only its SHA-256 is stored. Single-use,
    short-lived (MFA_TOKEN_LIFETIME) and dead after MFA_TOKEN_ATTEMPTS wrong codes. It signs
    nobody in by itself: only ``accounts.mfa`` completes it, on one channel.
    """

    class Channel(models.TextChoices):
        API = "api"  # POST /api/auth/mfa completes it with a token pair
        PORTAL = "portal"  # the sign-in page's code step completes it with a session

    class Purpose(models.TextChoices):
        VERIFY = "verify"  # a code of the person's confirmed device (or a recovery code)
        ENROLL = "enroll"  # an org requires a second factor: enroll one to finish signing in

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    # The org the API login named (its token pair acts there); the portal's names none.
    # Not ``org``: the row is the person's sign-in attempt, not a tenant row.
    login_org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.VERIFY)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"mfa challenge {self.pk} of user {self.user_id}"
