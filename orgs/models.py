from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from orgs.roles import Role
from tenancy.managers import TenantManager


class Organization(models.Model):
    """The tenant. Every tenant row elsewhere carries its ``org_id``."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    jwt_enabled = models.BooleanField(default=True)
    # Members who sign in with a password must use a second factor (owner-set; Google
    # sign-in is trusted to Google's own). Members without one enroll at their next sign-in.
    mfa_required = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    # Whoever signs in with Google under a verified address at one of these domains joins,
    # as ``default_role`` (owner-managed; lowercase, no "@").
    allowed_email_domains = models.JSONField(default=list, blank=True)
    default_role = models.CharField(
        max_length=16, choices=[(r.value, r.value) for r in Role], default=Role.MEMBER.value
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("slug"), name="org_slug_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.slug


class TenantModel(models.Model):
    """Base for rows that belong to one org: the fail-closed default manager of ``tenancy``,
    and its escape hatch for system code. Django's base manager (forward relations, ``save``,
    cascades) stays its plain one."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()
    dangerously_unscoped = models.Manager()  # noqa: DJ012 - ruff reads this manager as a field

    class Meta:
        abstract = True


class Membership(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_org_user_unique"),
        ]
        indexes = [models.Index(fields=["org", "role"], name="membership_org_role")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.org_id} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Invitation(TenantModel):
    """An invitation to join an org, accepted once by whoever holds the emailed token.

    Only the SHA-256 of the token is stored; the raw token exists in the email alone.
    """

    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role])
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["org", "email"], name="invitation_org_email")]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.org_id}"

    def status_at(self, now: datetime) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"
