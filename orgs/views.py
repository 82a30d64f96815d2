"""Portal pages of orgs: overview, org switcher, Members, Organization. Thin: parse, call
the same services as the API (``orgs.services``), render."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.exceptions import Throttled

from orgs.bases import PortalSignedInView
from orgs.forms import (
    EmailDomainsForm,
    InviteForm,
    JwtSwitchForm,
    OrganizationForm,
    RoleForm,
    apply_service_errors,
)
from orgs.models import Invitation, Membership
from orgs.portal import SESSION_ORG_KEY, PortalView, chrome_for
from orgs.ratelimits import enforce_invitation
from orgs.roles import SIGNED_IN, Role
from orgs.services import (
    invitation_create,
    invitation_resend,
    invitation_revoke,
    membership_remove,
    membership_set_role,
    org_set_email_domains,
    org_set_mfa_required,
    org_update,
)


def refusal(error: PermissionDenied | ValidationError) -> str:
    """The rule's own words, for the flash message of a refused action."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or "Your role does not allow this"


class OverviewView(PortalView):
    required_actions = {"get": "org:read"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(
            "portal/overview.html",
            {"members": Membership.objects.for_org(self.org).count()},
        )


class SwitchOrgView(PortalSignedInView):
    """POST ``org_id``: the org the portal acts in from now on (one of the person's own).
    Not a write to any org's data, so not audited: it changes this session only."""

    http_method_names = ["post"]
    required_actions = {"post": SIGNED_IN}

    def post(self, request: HttpRequest) -> HttpResponseBase:
        chrome = chrome_for(request)
        if chrome is None:
            raise Http404("No such organization")
        wanted = request.POST.get("org_id", "")
        membership = next((m for m in chrome.memberships if str(m.org_id) == wanted), None)
        if membership is None:
            raise Http404("No such organization")
        request.session[SESSION_ORG_KEY] = membership.org_id
        messages.success(request, f"Now acting in {membership.org.name}")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("portal-overview")
        return redirect(target)


TOO_MANY_INVITATIONS = "Too many invitations sent in the last hour; try again later."


def invitations_allowed(view: Any, request: HttpRequest) -> bool:
    """The API's invitation limits (per org, per inviter): each email sent counts."""
    try:
        enforce_invitation(
            request, org_id=view.org.pk, inviter_id=view.org_context.membership.user_id
        )
    except Throttled:
        return False
    return True


class MembersView(PortalView):
    required_actions = {"get": "member:read", "post": "member:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(InviteForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        """Invite someone (the same service as ``POST /api/invitations``)."""
        form = InviteForm(request.POST)
        if form.is_valid() and not invitations_allowed(self, request):
            form.add_error(None, TOO_MANY_INVITATIONS)
            return self.page(form, status=429)
        if form.is_valid():
            try:
                with self.outside_the_request_transaction():  # hooks wait on the network
                    invitation, _token = invitation_create(
                        org=self.org,
                        actor=self.actor(),
                        by=self.org_context,
                        email=form.cleaned_data["email"],
                        role=form.cleaned_data["role"],
                    )
            except PermissionDenied as exc:
                form.add_error("role", refusal(exc))
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}")
                return redirect("portal-members")
        return self.page(form, status=422)

    def page(self, form: InviteForm, *, status: int = 200) -> HttpResponse:
        members = list(
            Membership.objects.for_org(self.org).select_related("user").order_by("created_at")
        )
        now = timezone.now()
        pending = [
            i
            for i in Invitation.objects.for_org(self.org)
            .filter(accepted_at__isnull=True, revoked_at__isnull=True)
            .order_by("-created_at")
            if i.status_at(now) == "pending"
        ]
        may_write = self.allows("member:write")
        return self.render_page(
            "portal/members.html",
            {
                "members": members,
                "pending": pending,
                "form": form,
                "may_write": may_write,
                "grantable": [r.value for r in Role if Role(self.org_context.role).rank >= r.rank],
            },
            status=status,
        )


class MemberRoleView(PortalView):
    required_actions = {"post": "member:write"}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = get_object_or_404(Membership.objects.for_org(self.org), pk=pk)
        form = RoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose one of the roles")
            return redirect("portal-members")
        try:
            with self.outside_the_request_transaction():  # hooks wait on the network
                membership = membership_set_role(
                    org=self.org,
                    actor=self.actor(),
                    membership=membership,
                    role=form.cleaned_data["role"],
                    by=self.org_context,
                )
        except Membership.DoesNotExist:  # removed while a hook was deciding (the API: 404)
            messages.error(request, "Role not changed: this member was removed meanwhile")
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, f"Role not changed: {refusal(exc)}")
        else:
            messages.success(request, f"{membership.user.email} is now {membership.role}")
        return redirect("portal-members")


class MemberRemoveView(PortalView):
    required_actions = {"get": "member:write", "post": "member:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = get_object_or_404(
            Membership.objects.for_org(self.org).select_related("user"), pk=pk
        )
        return self.render_page(
            "portal/components/confirm_page.html",
            {
                "title": f"Remove {membership.user.email} from {self.org.name}?",
                "body": "They lose access at once, and the API keys they created stop working.",
                "button": "Remove member",
                "action": request.path,
                "cancel": reverse("portal-members"),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        membership = get_object_or_404(
            Membership.objects.for_org(self.org).select_related("user"), pk=pk
        )
        try:
            membership_remove(
                org=self.org, actor=self.actor(), membership=membership, by=self.org_context
            )
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, f"Not removed: {refusal(exc)}")
        else:
            messages.success(request, f"{membership.user.email} removed")
        return redirect("portal-members")


class InvitationResendView(PortalView):
    required_actions = {"post": "member:write"}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invitation = get_object_or_404(Invitation.objects.for_org(self.org), pk=pk)
        if not invitations_allowed(self, request):
            messages.error(request, f"Not sent: {TOO_MANY_INVITATIONS}")
            return redirect("portal-members")
        try:
            invitation_resend(
                org=self.org, actor=self.actor(), by=self.org_context, invitation=invitation
            )
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, f"Not sent: {refusal(exc)}")
        else:
            messages.success(request, f"Invitation sent again to {invitation.email}")
        return redirect("portal-members")


class InvitationRevokeView(PortalView):
    required_actions = {"get": "member:write", "post": "member:write"}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invitation = get_object_or_404(Invitation.objects.for_org(self.org), pk=pk)
        return self.render_page(
            "portal/components/confirm_page.html",
            {
                "title": f"Revoke the invitation of {invitation.email}?",
                "body": "The emailed link stops working at once.",
                "button": "Revoke invitation",
                "action": request.path,
                "cancel": reverse("portal-members"),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invitation = get_object_or_404(Invitation.objects.for_org(self.org), pk=pk)
        try:
            invitation_revoke(org=self.org, actor=self.actor(), invitation=invitation)
        except ValidationError as exc:
            messages.error(request, f"Not revoked: {refusal(exc)}")
        else:
            messages.success(request, f"Invitation of {invitation.email} revoked")
        return redirect("portal-members")


class OrganizationView(PortalView):
    """The org's name; its security settings are on the Security page."""

    required_actions = {"get": "org:read", "post": "org:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(OrganizationForm(initial={"name": self.org.name}))

    def post(self, request: HttpRequest) -> HttpResponse:
        """The same service as ``PATCH /api/org``."""
        form = OrganizationForm(request.POST)
        if form.is_valid():
            try:
                org_update(org=self.org, actor=self.actor(), by=self.org_context, **form.changes())
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, "Organization settings saved")
                return redirect("portal-organization")
        return self.page(form, status=422)

    def page(self, form: OrganizationForm, *, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "may_write": self.allows("org:write"),
            "may_read_security": self.allows("security:read"),
        }
        return self.render_page("portal/organization.html", context, status=status)


class _SecurityPage(PortalView):
    """Settings > Security: the JWT switch and joining by email domain. Owners change them
    (``security:write``, which the services check too); admins read them."""

    def jwt_form(self) -> JwtSwitchForm:
        return JwtSwitchForm(initial={"jwt_enabled": self.org.jwt_enabled})

    def domains_form(self) -> EmailDomainsForm:
        initial = {
            "allowed_email_domains": "\n".join(self.org.allowed_email_domains),
            "default_role": self.org.default_role,
        }
        return EmailDomainsForm(initial=initial)

    def page(
        self, jwt: JwtSwitchForm, domains: EmailDomainsForm, *, status: int = 200
    ) -> HttpResponse:
        context: dict[str, Any] = {
            "jwt_form": jwt,
            "domains_form": domains,
            "may_write": self.allows("security:write"),
            "owners": owners_of(self.org),
        }
        return self.render_page("portal/security.html", context, status=status)


class SecurityView(_SecurityPage):
    required_actions = {"get": "security:read", "post": "security:write"}

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(self.jwt_form(), self.domains_form())

    def post(self, request: HttpRequest) -> HttpResponse:
        """The JWT switch: the same service as ``PATCH /api/org/security``."""
        form = JwtSwitchForm(request.POST)
        if form.is_valid():
            enabled = form.cleaned_data["jwt_enabled"]
            try:
                org_update(
                    org=self.org, actor=self.actor(), by=self.org_context, jwt_enabled=enabled
                )
            except PermissionDenied as exc:
                messages.error(request, f"Not saved: {refusal(exc)}")
            else:
                state = "on" if enabled else "off"
                messages.success(request, f"JWT sign-in for the API is {state}")
            return redirect("portal-security")
        return self.page(form, self.domains_form(), status=422)


class SecurityMfaView(_SecurityPage):
    """Require a second factor for password sign-in: ``orgs.services.org_set_mfa_required``
    (the same service as ``PATCH /api/org/security {"mfa_required": ...}``)."""

    required_actions = {"post": "security:write"}

    def post(self, request: HttpRequest) -> HttpResponse:
        required = request.POST.get("mfa_required") == "on"
        try:
            org_set_mfa_required(
                org=self.org, actor=self.actor(), by=self.org_context, required=required
            )
        except PermissionDenied as exc:
            messages.error(request, f"Not saved: {refusal(exc)}")
        else:
            messages.success(
                request,
                "Members who sign in with a password now need a second factor"
                if required
                else "A second factor is no longer required",
            )
        return redirect("portal-security")


class SecurityDomainsView(_SecurityPage):
    """Who may join by verified email domain: ``orgs.services.org_set_email_domains``."""

    required_actions = {"post": "security:write"}

    def post(self, request: HttpRequest) -> HttpResponse:
        domains = EmailDomainsForm(request.POST)
        if domains.is_valid():
            try:
                org_set_email_domains(
                    org=self.org,
                    actor=self.actor(),
                    by=self.org_context,
                    domains=domains.domains(),
                    role=domains.cleaned_data["default_role"],
                )
            except PermissionDenied as exc:
                messages.error(request, f"Not saved: {refusal(exc)}")
                return redirect("portal-security")
            except ValidationError as exc:
                apply_service_errors(domains, exc)
            else:
                messages.success(request, "Allowed email domains saved")
                return redirect("portal-security")
        return self.page(self.jwt_form(), domains, status=422)


def owners_of(org: Any) -> list[str]:
    """Emails of the org's active owners: who to ask about a security setting."""
    return list(
        Membership.objects.for_org(org)
        .filter(role=Role.OWNER, status=Membership.Status.ACTIVE)
        .order_by("created_at")
        .values_list("user__email", flat=True)[:3]
    )
