from django.apps import AppConfig


class HooksConfig(AppConfig):
    """Pre-write hooks: an org's endpoints that Tenantry asks, before certain writes,
    whether to go ahead. Two floors, like ``audit``: the ground floor (models, the call,
    the services) stands only on ``audit``'s record path and ``tenancy``, so that ``orgs``
    and ``apikeys`` services can consult it; the HTTP floor (API, portal pages) stands on
    ``orgs``' base views like any other app's."""

    name = "hooks"
    verbose_name = "Pre-write hooks"

    def ready(self) -> None:
        from hooks import audit_actions  # noqa: F401 - registers the actions
