"""Settings > API Keys in the portal. Thin: parse, call the same selectors and services as
``apikeys.api``, render. The raw key is shown on one page view, then never again."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from apikeys.forms import APIKeyCreateForm, APIKeyPolicyForm, APIKeyRollForm
from apikeys.models import APIKey
from apikeys.policy import describe, is_unrestricted
from apikeys.selectors import (
    STATUSES,
    PolicyFlags,
    api_key_policy_of,
    api_keys_visible,
    api_keys_with_status,
)
from apikeys.services import api_key_create, api_key_policy_set, api_key_revoke, api_key_roll
from orgs.forms import apply_service_errors
from orgs.portal import PortalView
from orgs.views import owners_of, refusal

# The session holds a new raw key from the create (or roll) POST until the one page view
# that shows it; that view pops it. Nowhere else does the raw key live.
SECRET_SESSION_KEY = "portal_new_api_key"
PAGE_SIZE = 20


class APIKeyPortalView(PortalView):
    def visible(self) -> Any:
        return api_keys_visible(APIKey.objects.for_org(self.org), context=self.org_context)

    def key(self, pk: int) -> APIKey:
        """One key this person may see; another org's, or someone else's for a
        developer, is a 404 (as in the API)."""
        return get_object_or_404(self.visible(), pk=pk)

    def hand_over(self, key: APIKey, raw: str) -> HttpResponse:
        self.request.session[SECRET_SESSION_KEY] = {"id": key.pk, "key": raw}
        return redirect("portal-api-key-new")


class APIKeyListView(APIKeyPortalView):
    required_actions = {"get": "api_key:read"}

    def get(self, request: HttpRequest) -> HttpResponse:
        status = request.GET.get("status") or ""
        keys = self.visible().order_by("-created_at", "-pk")
        if status in STATUSES:
            keys = api_keys_with_status(keys, status)
        else:
            status = ""
        page = Paginator(keys, PAGE_SIZE).get_page(request.GET.get("page"))
        now = timezone.now()
        flags = PolicyFlags(self.org)
        rows = [(key, key.status_at(now), flags.rules_for(key)) for key in page]
        return self.render_page(
            "portal/api_keys/list.html",
            {
                "rows": rows,
                "page": page,
                "status": status,
                "statuses": STATUSES,
                "query": f"status={status}&" if status else "",
                "may_write": self.allows("api_key:write"),
                "sees_all": self.allows("api_key:manage"),
                "flagged": any(rules for _, _, rules in rows),
                "may_read_policy": self.allows("security:read"),
            },
        )


class APIKeyCreateView(APIKeyPortalView):
    required_actions = {"get": "api_key:write", "post": "api_key:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(APIKeyCreateForm(actions=self.org_context.actions))

    def post(self, request: HttpRequest) -> HttpResponse:
        """The same service as ``POST /api/api-keys``."""
        form = APIKeyCreateForm(request.POST, actions=self.org_context.actions)
        if form.is_valid():
            try:
                with self.outside_the_request_transaction():  # hooks wait on the network
                    key, raw = api_key_create(
                        org=self.org,
                        actor=self.actor(),
                        creator=self.membership,
                        within=self.org_context.scopes,
                        **form.service_arguments(),
                    )
            except PermissionDenied as exc:  # the member was removed while a hook decided
                form.add_error(None, str(exc))
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                return self.hand_over(key, raw)
        return self.page(form, status=422)

    def page(self, form: APIKeyCreateForm, *, status: int = 200) -> HttpResponse:
        policy = api_key_policy_of(self.org)
        context = {"form": form, "policy": None if is_unrestricted(policy) else policy}
        return self.render_page("portal/api_keys/create.html", context, status=status)


class APIKeyNewView(APIKeyPortalView):
    """The one page view that shows a new key: popped from the session, never cached."""

    required_actions = {"get": "api_key:read"}

    def get(self, request: HttpRequest) -> HttpResponse:
        handed = request.session.pop(SECRET_SESSION_KEY, None)
        if not isinstance(handed, dict):
            messages.warning(
                request, "A new key is shown only once. If you lost it, roll or create a key."
            )
            return redirect("portal-api-keys")
        key = self.key(handed["id"])
        response = self.render_page(
            "portal/api_keys/new.html", {"key": key, "secret": handed["key"]}
        )
        response["Cache-Control"] = "no-store"
        return response


class APIKeyRevokeView(APIKeyPortalView):
    required_actions = {"get": "api_key:write", "post": "api_key:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = self.key(pk)
        return self.render_page(
            "portal/components/confirm_page.html",
            {
                "title": f"Revoke key {key.name} ({key.prefix}…{key.last_four})?",
                "body": "Requests with this key will fail immediately. This cannot be undone.",
                "button": "Revoke key",
                "action": request.path,
                "cancel": reverse("portal-api-keys"),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The same service as ``DELETE /api/api-keys/{id}``."""
        key = self.key(pk)
        api_key_revoke(org=self.org, actor=self.actor(), key=key)
        messages.success(request, f"Key {key.name} ({key.prefix}…{key.last_four}) revoked")
        return redirect("portal-api-keys")


class APIKeyRollView(APIKeyPortalView):
    required_actions = {"get": "api_key:write", "post": "api_key:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.page(self.key(pk), APIKeyRollForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The same service as ``POST /api/api-keys/{id}/roll``."""
        key = self.key(pk)
        form = APIKeyRollForm(request.POST)
        if form.is_valid():
            try:
                with self.outside_the_request_transaction():  # hooks wait on the network
                    new, raw = api_key_roll(
                        org=self.org,
                        actor=self.actor(),
                        key=key,
                        grace_seconds=form.cleaned_data["grace_seconds"],
                        by=self.org_context,
                        within=self.org_context.scopes,
                        expires_at=form.new_expiry(),
                    )
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                return self.hand_over(new, raw)
        return self.page(key, form, status=422)

    def page(self, key: APIKey, form: APIKeyRollForm, *, status: int = 200) -> HttpResponse:
        return self.render_page(
            "portal/api_keys/roll.html", {"key": key, "form": form}, status=status
        )


class APIKeyPolicyPortalView(APIKeyPortalView):
    """Settings > API Keys > Policy: owners change it (``security:write``), admins read it;
    the active keys outside it are listed under the form, never revoked here."""

    required_actions = {"get": "security:read", "post": "security:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        policy = api_key_policy_of(self.org)
        return self.page(APIKeyPolicyForm(initial=APIKeyPolicyForm.initial_from(policy)))

    def post(self, request: HttpRequest) -> HttpResponse:
        """The same service as ``PUT /api/api-key-policy``."""
        form = APIKeyPolicyForm(request.POST)
        if form.is_valid():
            try:
                _, outside = api_key_policy_set(
                    org=self.org, actor=self.actor(), by=self.org_context, changes=form.changes()
                )
            except PermissionDenied as exc:
                messages.error(request, f"Not saved: {refusal(exc)}")
                return redirect("portal-api-key-policy")
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                note = (
                    f" {len(outside)} active key(s) are outside it: they keep working and are "
                    "flagged in the list; revoke or roll them."
                    if outside
                    else ""
                )
                messages.success(request, "API-key policy saved." + note)
                return redirect("portal-api-key-policy")
        return self.page(form, status=422)

    def page(self, form: APIKeyPolicyForm, *, status: int = 200) -> HttpResponse:
        policy = api_key_policy_of(self.org)
        return self.render_page(
            "portal/api_keys/policy.html",
            {
                "form": form,
                "policy": describe(policy),
                "outside": PolicyFlags(self.org, policy).out_of_policy(),
                "may_write": self.allows("security:write"),
                "owners": owners_of(self.org),
            },
            status=status,
        )
