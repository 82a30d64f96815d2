"""The document under test and the app the fuzz run calls."""

from typing import Any

from drf_spectacular.generators import SchemaGenerator

from config.wsgi import application as application


def api_document() -> dict[str, Any]:
    """What /api/docs.json serves, generated in process (no request, no database)."""
    return SchemaGenerator().get_schema(request=None, public=True)
