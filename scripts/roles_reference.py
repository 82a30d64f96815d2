"""Writes docs/roles.md from the role table in ``orgs/roles.py`` (the one source of who may do
what); a test fails when the file is stale.

``DEBUG=true .venv/bin/python scripts/roles_reference.py`` regenerates it.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "roles.md"

HEADER = """# Roles and actions

Generated from `orgs/roles.py` by `scripts/roles_reference.py`; the API reference
(`/developers/api`) renders the same table, and every operation of the OpenAPI document names
the action it needs (`x-required-action`). A credential may do what its holder's CURRENT role
allows; an API key is further narrowed to its scopes. Nobody grants a role above their own,
only owners grant or change the owner role, and an organization always keeps one owner.

"""


def render() -> str:
    from orgs.roles import ACTIONS, roles_table_markdown

    descriptions = "\n".join(f"- `{action}`: {text}" for action, text in ACTIONS.items())
    return HEADER + roles_table_markdown() + "\n\n## The actions\n\n" + descriptions + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    OUTPUT.write_text(render())
