"""Portal pages of orgs (the API's routes are in ``orgs.urls``)."""

from django.urls import URLPattern, path

from orgs import views

urlpatterns: list[URLPattern] = [
    path("", views.OverviewView.as_view(), name="portal-overview"),
    path("orgs/switch/", views.SwitchOrgView.as_view(), name="portal-switch-org"),
    path("settings/members/", views.MembersView.as_view(), name="portal-members"),
    path(
        "settings/members/<int:pk>/role/",
        views.MemberRoleView.as_view(),
        name="portal-member-role",
    ),
    path(
        "settings/members/<int:pk>/remove/",
        views.MemberRemoveView.as_view(),
        name="portal-member-remove",
    ),
    path(
        "settings/invitations/<int:pk>/resend/",
        views.InvitationResendView.as_view(),
        name="portal-invitation-resend",
    ),
    path(
        "settings/invitations/<int:pk>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="portal-invitation-revoke",
    ),
    path("settings/organization/", views.OrganizationView.as_view(), name="portal-organization"),
    path("settings/security/", views.SecurityView.as_view(), name="portal-security"),
    path("settings/security/mfa/", views.SecurityMfaView.as_view(), name="portal-security-mfa"),
    path(
        "settings/security/email-domains/",
        views.SecurityDomainsView.as_view(),
        name="portal-security-domains",
    ),
]
