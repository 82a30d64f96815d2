"""Every use of the cross-org escape hatch is named here, with why it spans orgs.

A new ``dangerously_unscoped`` call site fails this test until it is added below (file and
function), which puts it in front of a reviewer; a site that disappears must be removed too.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ESCAPE_HATCH = "dangerously_unscoped"

ALLOW_LIST = {
    ("accounts/selectors.py", "sessions_list"): "a person's API sign-ins span their orgs",
    ("accounts/mfa.py", "orgs_requiring"): "which of one person's orgs require a second factor",
    ("accounts/session_auth.py", "_memberships_of"): (
        "a session's person's memberships, to pick its org (on SQLite; PostgreSQL reads them "
        "through the SECURITY DEFINER tenantry_person_memberships)"
    ),
    ("accounts/services.py", "expired_sign_ins_flush"): "a sweep of every org's dead sign-ins",
    ("accounts/services.py", "session_end"): "a person ends their own sign-in, in any org",
    ("accounts/services.py", "refresh"): "a refresh token is looked up by its hash, before any org",
    ("accounts/services.py", "revoke_all_families"): "a person's sign-ins span their orgs",
    ("config/metrics.py", "WebhookCollector._read"): "the operator's metrics span orgs",
    ("orgs/portal.py", "chrome_for"): "the layout lists one person's orgs (switcher), by person",
    ("apikeys/admin.py", "APIKeyAdmin.get_queryset"): "the staff console spans orgs",
    ("apikeys/services.py", "api_key_touch"): "by primary key, from the authenticated key",
    ("apikeys/services.py", "leaked_keys_report"): "a leaked key is found by its hash",
    ("audit/admin.py", "AuditEventAdmin.get_queryset"): "the staff console spans orgs",
    ("audit/retention.py", "_purge_org"): "the purge runs per org, and for platform events",
    ("audit/retention.py", "audit_purge"): "the purge finds which orgs have expired events",
    ("audit/webhooks/delivery.py", "claim_due"): "the delivery worker serves every org",
    ("audit/webhooks/delivery.py", "fan_out"): "the fan-out serves every org",
    ("audit/webhooks/delivery.py", "record_outcome"): "the delivery worker serves every org",
    ("audit/webhooks/delivery.py", "release"): "the delivery worker serves every org",
    ("orgs/admin.py", "MembershipAdmin.get_queryset"): "the staff console spans orgs",
    ("orgs/api.py", "MyOrganizationsView.get_queryset"): "a person's memberships span orgs",
    ("orgs/hosts.py", "membership_for_person"): "a person's memberships, to pick the org",
    ("orgs/services.py", "invitation_lock"): "an invitation is found by its token's hash",
    ("orgs/services.py", "invitation_peek"): "an invitation is found by its token's hash",
    ("orgs/services.py", "invitations_claim_for_verified_email"): (
        "one person's invitations, keyed by their verified email, span orgs"
    ),
    ("usage/services.py", "usage_rollup"): "the rollup copies every org's counters",
}


def _source_files() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.glob("*/**/*.py"))
        if path.relative_to(ROOT).parts[0] not in {".venv", "tests", "bench"}
        and "migrations" not in path.parts
    ]


def _call_sites(path: Path) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    relative = str(path.relative_to(ROOT))

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                visit(child, [*scope, child.name])
                continue
            named = (isinstance(child, ast.Attribute) and child.attr == ESCAPE_HATCH) or (
                isinstance(child, ast.Constant) and child.value == ESCAPE_HATCH
            )
            if named:
                found.add((relative, ".".join(scope) or "<module>"))
            visit(child, scope)

    visit(ast.parse(path.read_text()), [])
    return found


def test_the_walk_sees_the_source_tree():
    assert len(_source_files()) > 50


def test_every_cross_org_query_is_on_the_allow_list():
    sites = set().union(*(_call_sites(path) for path in _source_files()))
    assert sites - set(ALLOW_LIST) == set(), "unreviewed dangerously_unscoped call sites"
    assert set(ALLOW_LIST) - sites == set(), "allow-listed sites that no longer exist"
