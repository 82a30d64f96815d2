from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import PermissionsMixin
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
