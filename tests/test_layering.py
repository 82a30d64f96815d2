"""DESIGN.md's dependency rules, read from every module's imports (and from every
``apps.get_model`` call, which is an import by another name).

    config -> usage -> apikeys -> accounts -> orgs -> audit (HTTP floor) -> audit (ground floor)
                                                                -> tenancy (a library)
    hooks (HTTP floor) -> orgs -> hooks (ground floor) -> audit (ground floor, webhooks' wire)

``hooks`` has two floors like ``audit``: the services of ``orgs`` and ``apikeys`` consult
its ground floor before their writes, so that floor never stands on them; its API and
portal pages stand on ``orgs``' base views like any other app's.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("accounts", "apikeys", "audit", "hooks", "orgs", "tenancy", "usage", "config")

# audit's HTTP floor stands on orgs' base views; so does audit.webhooks, whose endpoints and
# deliveries are tenant rows of orgs' Organization. Everything else in audit is the ground
# floor: the record path, outbox, selectors, retention, registry, admin, commands.
AUDIT_UPPER_FLOOR = {
    "audit/api.py",
    "audit/exports.py",
    "audit/stream.py",
    "audit/serializers.py",
    "audit/urls.py",
    "audit/forms.py",  # the portal's filter form
    "audit/portal_urls.py",
    "audit/views.py",  # the portal's audit-log pages
    "audit/visibility.py",  # which part of the log a credential reads (API and portal)
}
# The pre-write hooks' pages and API; the rest of hooks is the ground floor.
HOOKS_UPPER_FLOOR = {
    "hooks/api.py",
    "hooks/serializers.py",
    "hooks/urls.py",
    "hooks/forms.py",
    "hooks/views.py",
    "hooks/portal_urls.py",
}
# The modules of audit.webhooks that make and judge outgoing calls (signing, the SSRF
# filter, the transport, which URLs may be registered): they stand on nothing of orgs, so
# the ground floor of hooks calls out through them too.
WEBHOOKS_WIRE = {"addresses", "signing", "targets", "transport"}
# Known exceptions, each with its reason; the test fails when one is no longer needed.
EXCEPTIONS = {
    ("audit/retention.py", "orgs"): "per-org retention days are read from Organization.settings",
}


def _modules() -> list[str]:
    return [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _imported_apps(relative: str) -> set[str]:
    """The project apps a module names: imports, and apps.get_model("<app>", ...)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / relative).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value).split(".")[0])
    found = set()
    for name in names:
        if ".".join(name.split(".")[:3]) in {f"audit.webhooks.{w}" for w in WEBHOOKS_WIRE}:
            found.add("audit.webhooks.wire")
        elif name.startswith("audit.webhooks"):
            found.add("audit.webhooks")
        elif name.split(".")[0] in APPS:
            found.add(name.split(".")[0])
    return found


def _forbidden(relative: str) -> set[str]:
    app = relative.split("/")[0]
    if app == "config":
        return set()  # the top: it may stand on anything
    forbidden = {"config"}  # no app imports config
    if app != "usage":
        forbidden |= {"usage"}  # usage meters the apps below it; none of them knows it
    if app == "tenancy":
        forbidden |= {"accounts", "apikeys", "audit", "hooks", "orgs", "audit.webhooks"}
        forbidden |= {"audit.webhooks.wire"}
    elif app == "hooks":
        forbidden |= {"accounts", "apikeys"}
        if relative not in HOOKS_UPPER_FLOOR:
            forbidden |= {"orgs", "audit.webhooks"}  # the wire alone, below orgs
    elif app == "orgs":
        forbidden |= {"accounts", "apikeys"}
    elif app == "usage":
        forbidden |= {"accounts"}  # stands on apikeys (keys) and orgs (the org's ceiling)
    elif app == "accounts":
        forbidden |= {"apikeys"}
    elif app == "audit":
        forbidden |= {"accounts", "apikeys", "hooks"}  # no floor of audit stands on these
        wire = relative in {f"audit/webhooks/{w}.py" for w in WEBHOOKS_WIRE}
        upper = relative in AUDIT_UPPER_FLOOR or relative.startswith("audit/webhooks/")
        if not upper or wire:
            forbidden |= {"orgs", "audit.webhooks"}
    return forbidden


def test_the_walk_reads_every_app():
    modules = _modules()
    assert {"audit/models.py", "orgs/bases.py", "tenancy/managers.py"} <= set(modules)
    assert {"hooks/services.py", "audit/webhooks/transport.py"} <= set(modules)
    assert {m.split("/")[0] for m in modules} == set(APPS)


@pytest.mark.parametrize("module", _modules())
def test_dependencies_point_downwards(module):
    wrong = {
        app
        for app in _imported_apps(module) & _forbidden(module)
        if (module, app) not in EXCEPTIONS
    }
    assert wrong == set(), f"{module} stands on {sorted(wrong)}"


@pytest.mark.parametrize(("module", "app"), list(EXCEPTIONS))
def test_every_exception_is_still_needed(module, app):
    assert app in _imported_apps(module)
