"""Writes docs/tenantry.postman_collection.json (Postman collection v2.1) from the OpenAPI
document, one request per operation, grouped by tag. A test fails when the file and the
document disagree: ``DEBUG=true .venv/bin/python scripts/postman.py`` regenerates it.

Import it into Postman and set the collection variables ``baseUrl`` (default
``http://127.0.0.1:8000``), ``accessToken`` (a JWT from ``POST /api/auth/login``) and
``apiKey`` (for ``/api/public/*``).
"""

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "tenantry.postman_collection.json"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
_METHODS = ("get", "post", "put", "patch", "delete")


def openapi_document() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from drf_spectacular.generators import SchemaGenerator

    return dict(SchemaGenerator().get_schema(request=None, public=True))


def collection(document: dict[str, Any]) -> dict[str, Any]:
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, item in sorted(document["paths"].items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            folders.setdefault(tag, []).append(_request(path, method, operation))
    return {
        "info": {
            "name": document["info"]["title"],
            "description": "Generated from /api/docs.json by scripts/postman.py.",
            "schema": SCHEMA,
        },
        "auth": {"type": "bearer", "bearer": [_kv("token", "{{accessToken}}")]},
        "variable": [
            _kv("baseUrl", "http://127.0.0.1:8000"),
            _kv("accessToken", ""),
            _kv("apiKey", ""),
        ],
        "item": [{"name": tag, "item": items} for tag, items in sorted(folders.items())],
    }


def _request(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    postman_path = re.sub(r"\{(\w+)\}", r":\1", path)
    segments = [s for s in postman_path.split("/") if s]
    params = [p for p in operation.get("parameters", []) if p.get("in") == "path"]
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [],
        "url": {
            "raw": "{{baseUrl}}" + postman_path,
            "host": ["{{baseUrl}}"],
            "path": segments,
            "variable": [_kv(p["name"], "") for p in params],
        },
        "description": _description(operation),
    }
    security = operation.get("security")
    if security == []:
        request["auth"] = {"type": "noauth"}
    elif path.startswith("/api/public/"):
        request["auth"] = {
            "type": "apikey",
            "apikey": [_kv("key", "X-API-Key"), _kv("value", "{{apiKey}}"), _kv("in", "header")],
        }
    if "requestBody" in operation:
        request["header"].append(_kv("Content-Type", "application/json"))
        request["body"] = {"mode": "raw", "raw": "{}", "options": {"raw": {"language": "json"}}}
    return {"name": f"{method.upper()} {path}", "request": request}


def _description(operation: dict[str, Any]) -> str:
    # The description already names the required action (x-required-action).
    parts = [operation.get("summary") or "", operation.get("description") or ""]
    return "\n\n".join(p for p in parts if p)


def _kv(key: str, value: str) -> dict[str, str]:
    return {"key": key, "value": value}


def render(document: dict[str, Any]) -> str:
    return json.dumps(collection(document), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render(openapi_document()))
