import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(api):
    response = api.get("/api/docs.json")
    assert response.status_code == 200
    return response.json()


def test_docs_json_is_a_valid_openapi_3_document(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_both_security_schemes_are_declared(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyAuth"]["in"] == "header"


def test_health_is_public_and_documented(spec):
    operation = spec["paths"]["/api/health"]["get"]
    assert operation["security"] == []
    assert "401" not in operation["responses"]


def test_every_operation_documents_the_error_shape(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status in ("400", "404", "422", "429", "500"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, method)


def test_interactive_reference_is_served_from_our_own_static_files(client):
    from django.contrib.staticfiles import finders

    response = client.get("/developers/api")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page.lower()
    assert "cdn" not in page.lower()  # no third-party script on our origin
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_the_roles_table_is_rendered_into_the_reference(spec):
    description = spec["info"]["description"]
    assert "| action | owner | admin | developer | member | viewer |" in description
    assert "| `api_key:manage` | ✓ | ✓ |  |  |  |" in description


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_states_its_required_action(spec):
    from orgs.roles import ACCESS_LEVELS, ACTIONS

    for name, operation in _operations(spec):
        required = operation.get("x-required-action")
        assert required in ACTIONS or required in ACCESS_LEVELS, f"{name}: {required!r}"
        assert "**Required action:** " in operation["description"], name
        for alternative in operation.get("x-required-action-any-of", []):
            assert alternative in ACTIONS, name


@pytest.mark.parametrize(
    ("operation_id", "required", "any_of"),
    [
        ("api_keys_create", "api_key:write", None),
        ("api_keys_list", "api_key:read", None),
        ("members_update", "member:write", None),
        ("public_org", "org:read", None),
        ("users_me", "any_member", None),
        ("auth_logout", "signed_in", None),
        ("auth_login", "public", None),
        ("audit_events_list", "audit:read", ["audit:read", "audit:read_own"]),
    ],
)
def test_the_required_action_is_the_views_own_data(spec, operation_id, required, any_of):
    operation = next(op for _, op in _operations(spec) if op["operationId"] == operation_id)
    assert operation["x-required-action"] == required
    assert operation.get("x-required-action-any-of") == any_of


def test_the_base_views_docstrings_stay_out_of_the_document(spec):
    login = next(op for _, op in _operations(spec) if op["operationId"] == "auth_login")
    assert "allow-list" not in login["description"]
    public_org = next(op for _, op in _operations(spec) if op["operationId"] == "public_org")
    assert public_org["description"].startswith("API key only")
