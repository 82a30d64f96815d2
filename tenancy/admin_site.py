"""The Django admin as a staff console that spans orgs: every admin page runs in one
``tenancy.rls.cross_org`` transaction (the listed cross-org path; docs/deployment.md), and is
rendered inside it, so its tenant lists (``dangerously_unscoped``) see every org's rows under
row-level security. Installed in place of ``django.contrib.admin`` (same label, ``admin``)."""

import functools
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig

from tenancy.rls import cross_org


class CrossOrgAdminSite(admin.AdminSite):
    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        @functools.wraps(inner)
        def spanning_orgs(request: Any, *args: Any, **kwargs: Any) -> Any:
            with cross_org():
                response = inner(request, *args, **kwargs)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

        return spanning_orgs


class AdminConfig(DjangoAdminConfig):
    default_site = "tenancy.admin_site.CrossOrgAdminSite"
