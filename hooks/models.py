"""Pre-write hooks. The ground floor of ``hooks``: the org is named by label, never
imported, so ``orgs`` can stand on this app (see ``hooks.apps``)."""

from django.db import models

from audit.webhooks.targets import display_url
from tenancy.managers import TenantManager

# The writes a hook may be asked about, with what the hook sees of each.
HOOKABLE_ACTIONS: dict[str, str] = {
    "member.invite": "Inviting someone (email, role)",
    "member.role_change": "Changing a member's role (member, role before and after)",
    "api_key.create": "Creating an API key (name, environment, scopes, limits, creator)",
    "api_key.roll": "Rolling an API key (the key, its settings, the grace period)",
}


class PreWriteHook(models.Model):
    """An HTTPS endpoint an org's owner registered for some of ``HOOKABLE_ACTIONS``.

    ``secret`` (``whsec_`` + base64 of 32 random bytes, Standard Webhooks) is stored in
    plain because every call is signed with it. It is returned once, by the create
    service; it never goes to logs, audit metadata, ``__str__`` or forms.
    """

    class FailureMode(models.TextChoices):
        OPEN = "open", "Fail open: allow the write when the hook cannot answer"
        CLOSED = "closed", "Fail closed: refuse the write when the hook cannot answer"

    # A tenant row; ``org`` by label (see the module's docstring), the tenancy manager below.
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=255, blank=True)
    actions = models.JSONField(default=list)  # names from HOOKABLE_ACTIONS, at least one
    secret = models.CharField(max_length=128, editable=False)
    failure_mode = models.CharField(
        max_length=8, choices=FailureMode.choices, default=FailureMode.CLOSED
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()
    dangerously_unscoped = models.Manager()  # noqa: DJ012 - ruff reads this manager as a field

    class Meta:
        indexes = [models.Index(fields=["org", "-created_at"], name="prewrite_hook_org_time")]

    def __str__(self) -> str:
        return display_url(self.url)
