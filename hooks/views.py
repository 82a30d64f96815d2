"""Pre-write hooks in the portal (Settings > Hooks): list, register (secret shown once),
test call, enable or disable, delete. Owners change them, admins read them. Thin: the same
services as ``hooks.api``."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from hooks.forms import PreWriteHookForm
from hooks.models import HOOKABLE_ACTIONS, PreWriteHook
from hooks.services import hook_create, hook_delete, hook_send_test, hook_update
from orgs.forms import apply_service_errors
from orgs.portal import PortalView

SECRET_SESSION_KEY = "portal_new_hook_secret"


class HookPortalView(PortalView):
    def hook(self, pk: int) -> PreWriteHook:
        return get_object_or_404(PreWriteHook.objects.for_org(self.org), pk=pk)


class HookListView(HookPortalView):
    required_actions = {"get": "security:read"}

    def get(self, request: HttpRequest) -> HttpResponse:
        hooks = PreWriteHook.objects.for_org(self.org).order_by("-created_at", "-pk")
        return self.render_page(
            "portal/hooks/list.html",
            {"hooks": hooks, "may_write": self.allows("security:write")},
        )


class HookCreateView(HookPortalView):
    required_actions = {"get": "security:write", "post": "security:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(PreWriteHookForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        """The same service as ``POST /api/hooks``."""
        form = PreWriteHookForm(request.POST)
        if form.is_valid():
            try:
                created = hook_create(org=self.org, actor=self.actor(), **form.cleaned_data)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                request.session[SECRET_SESSION_KEY] = {
                    "id": created.hook.pk,
                    "secret": created.secret,
                }
                return redirect("portal-hook", pk=created.hook.pk)
        return self.page(form, status=422)

    def page(self, form: PreWriteHookForm, *, status: int = 200) -> HttpResponse:
        return self.render_page("portal/hooks/create.html", {"form": form}, status=status)


class HookDetailView(HookPortalView):
    """One hook; right after registering it, its secret, once."""

    required_actions = {"get": "security:read"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        secret = None
        handed = request.session.get(SECRET_SESSION_KEY)
        if isinstance(handed, dict) and handed.get("id") == hook.pk:
            secret = request.session.pop(SECRET_SESSION_KEY)["secret"]
        response = self.render_page(
            "portal/hooks/detail.html",
            {
                "hook": hook,
                "secret": secret,
                "actions": [(a, HOOKABLE_ACTIONS[a]) for a in hook.actions],
                "may_write": self.allows("security:write"),
            },
        )
        if secret is not None:
            response["Cache-Control"] = "no-store"
        return response


class HookEditView(HookPortalView):
    """Change a hook's URL, writes, failure mode or state: the same service as
    ``PATCH /api/hooks/{id}``. The secret stays (and is never shown again)."""

    required_actions = {"get": "security:write", "post": "security:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        initial = {
            "url": hook.url,
            "description": hook.description,
            "actions": hook.actions,
            "failure_mode": hook.failure_mode,
            "enabled": hook.enabled,
        }
        return self.page(hook, PreWriteHookForm(initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        form = PreWriteHookForm(request.POST)
        if form.is_valid():
            try:
                hook_update(org=self.org, actor=self.actor(), hook=hook, **form.cleaned_data)
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, f"Hook {hook} saved")
                return redirect("portal-hook", pk=hook.pk)
        return self.page(hook, form, status=422)

    def page(
        self, hook: PreWriteHook, form: PreWriteHookForm, *, status: int = 200
    ) -> HttpResponse:
        return self.render_page(
            "portal/hooks/edit.html", {"hook": hook, "form": form}, status=status
        )


class HookTestView(HookPortalView):
    """The same service as ``POST /api/hooks/{id}/test``: the answer in a flash message."""

    required_actions = {"post": "security:write"}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        try:
            with self.outside_the_request_transaction():  # no transaction waits on the call
                result = hook_send_test(org=self.org, actor=self.actor(), hook=hook)
        except PreWriteHook.DoesNotExist as exc:  # deleted meanwhile: a 404, as in the API
            raise Http404("No such hook") from exc
        took = f"in {result.duration_ms} ms"
        if result.outcome == "allowed":
            messages.success(request, f"The hook allowed the sample write ({took})")
        elif result.outcome == "denied":
            messages.warning(request, f"The hook denied the sample write: {result.reason}")
        else:
            follows = "writes go ahead" if result.writes_would_proceed else "writes are refused"
            messages.error(request, f"No verdict: {result.reason} ({took}); {follows}")
        return redirect("portal-hook", pk=hook.pk)


class HookEnabledView(HookPortalView):
    """Switch a hook on or off: the same service as ``PATCH /api/hooks/{id}``."""

    required_actions = {"post": "security:write"}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        enabled = request.POST.get("enabled") == "on"
        hook_update(org=self.org, actor=self.actor(), hook=hook, enabled=enabled)
        state = "enabled" if enabled else "disabled; writes are no longer put to it"
        messages.success(request, f"Hook {hook} {state}")
        return redirect("portal-hook", pk=hook.pk)


class HookDeleteView(HookPortalView):
    required_actions = {"get": "security:write", "post": "security:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        return self.render_page(
            "portal/components/confirm_page.html",
            {
                "title": f"Delete the pre-write hook {hook}?",
                "body": "Writes are no longer put to it, from the next one on.",
                "button": "Delete hook",
                "action": request.path,
                "cancel": reverse("portal-hook", args=[hook.pk]),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hook = self.hook(pk)
        hook_delete(org=self.org, actor=self.actor(), hook=hook)
        messages.success(request, f"Pre-write hook {hook} deleted")
        return redirect("portal-hooks")
