from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from orgs import api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("members", api.MemberViewSet, basename="members")
router.register("invitations", api.InvitationViewSet, basename="invitations")

urlpatterns: list[URLPattern | URLResolver] = [
    path("orgs", api.MyOrganizationsView.as_view(), name="orgs"),
    path("org", api.CurrentOrganizationView.as_view(), name="org"),
    path("org/security", api.OrganizationSecurityView.as_view(), name="org-security"),
    *router.urls,
]
