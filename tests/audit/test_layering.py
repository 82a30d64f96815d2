"""The audit record path is the ground floor: it imports no other app of the project."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The record path (models, record and what it uses) and the audit log's reads.
GROUND_FLOOR = [
    "models.py",
    "services.py",
    "actors.py",
    "redaction.py",
    "registry.py",
    "selectors.py",
]
OTHER_APPS = {"accounts", "orgs", "apikeys", "config"}


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("module", GROUND_FLOOR)
def test_audit_record_path_imports_no_other_app(module):
    imported = _imported_modules(ROOT / "audit" / module)
    offending = {
        name
        for name in imported
        if name.split(".")[0] in OTHER_APPS or name.startswith("audit.webhooks")
    }
    assert offending == set()
