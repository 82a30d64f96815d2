from datetime import datetime

from django.conf import settings
from django.db import models

from orgs.models import Membership, TenantModel


class APIKey(TenantModel):
    """An org's API key. The secret itself is never stored: only its peppered digest.

    A key acts as its creator's CURRENT membership, narrowed by ``scopes``; removing the
    creator from the org nulls ``membership`` and the key stops working.
    """

    name = models.CharField(max_length=100)
    env = models.CharField(max_length=4, default="live")
    prefix = models.CharField(max_length=32)  # shown in lists, e.g. tnt_live_9f3a
    last_four = models.CharField(max_length=4)
    key_hash = models.CharField(max_length=64, unique=True)
    pepper_id = models.CharField(max_length=16)
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    scopes = models.JSONField(null=True, blank=True)  # None: whatever the role allows
    allowed_origins = models.JSONField(default=list, blank=True)
    allowed_ips = models.JSONField(default=list, blank=True)  # CIDR blocks
    # Its own rate limit ("100/m"), at most the org's per-key rate; blank: the org's.
    rate_limit = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)
    replaced_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # When the org's owners were last told this key will be revoked for disuse (the sweep
    # warns once per idle stretch: a use after the warning makes it stale).
    unused_warned_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["org", "-created_at"], name="apikey_org_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…{self.last_four})"

    def status_at(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class APIKeyPolicy(TenantModel):
    """An org's rules for its API keys (GitHub's fine-grained token policies, and more).

    At most one per org; no row, or a field left empty, means no restriction. Create and
    roll enforce it (``apikeys.policy``); keys made before a rule existed are flagged, not
    revoked, except by the unused-key sweep (``manage.py revoke_unused_api_keys``).
    """

    max_lifetime_days = models.PositiveIntegerField(null=True, blank=True)
    revoke_unused_after_days = models.PositiveIntegerField(null=True, blank=True)
    # role -> the actions a new key of a member with that role may hold; a role not named: any
    scope_ceilings = models.JSONField(default=dict, blank=True)
    max_active_keys_per_member = models.PositiveIntegerField(null=True, blank=True)
    # role -> the environments ("live", "test") it may create keys in; a role not named: both
    allowed_environments = models.JSONField(default=dict, blank=True)
    require_ip_allowlist_for_live = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["org"], name="apikeypolicy_one_per_org")]

    def __str__(self) -> str:
        return f"API-key policy of {self.org_id}"
