"""The API reference at /developers/api renders in Chromium under the Content-Security-Policy
(no 'unsafe-inline'), and never calls an outside service (Swagger UI's online validator)."""

import pytest

pytestmark = pytest.mark.browser


def test_swagger_ui_renders_under_the_csp_without_violations(page, portal_url):
    problems: list[str] = []
    outside: list[str] = []
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda request: outside.append(request.url) if "tenantry.test" not in request.url else None,
    )
    response = page.goto(portal_url("api", "/developers/api"))
    assert response is not None
    assert response.status == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "Tenantry API" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock", timeout=15_000)  # the operations were read and drawn
    assert problems == []
    assert outside == []
