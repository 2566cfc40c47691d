"""docs/api.md is rendered from the gateway's OpenAPI schema: every route and status."""

from __future__ import annotations

from alexandria.api_docs import openapi_schema, render


def test_every_route_status_and_shape_is_documented() -> None:
    spec = openapi_schema()
    page = render(spec)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            section = page.split(f"## `{method.upper()} {path}`\n", 1)[1].split("\n## ", 1)[0]
            for status in op["responses"]:
                assert f"\n| {status} | " in section, (method, path, status)
    for name in spec["components"]["schemas"]:
        assert f"\n### {name}\n" in page
    assert '"error": "invalid_repo_url"' in page
