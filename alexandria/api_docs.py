"""Write docs/api.md from the gateway's OpenAPI schema (`make gen`), or check it is fresh.

`--check` fails when docs/api.md differs from what the schema gives, so CI catches a
route changed without regenerating its documentation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"

HEADER = """# REST API

Generated from the gateway's OpenAPI schema by `make gen` (`python -m alexandria.api_docs`);
do not edit by hand. A running gateway serves the same schema at `/openapi.json` and an
interactive page at `/docs`.

**Authentication.** `POST` routes need `Authorization: Bearer $ALEXANDRIA_ADMIN_TOKEN`. The
`GET` routes that list 401 need a bearer token only when `ALEXANDRIA_READ_TOKEN` is set (the
read token or the admin token). `/health` is always open.

**Rate limits.** Each client (its valid Bearer token, else its address) has a budget of
requests a minute: `ALEXANDRIA_RATE_LIMIT_INGEST_PER_MINUTE` (30) for ingest and
`ALEXANDRIA_RATE_LIMIT_READS_PER_MINUTE` (600) shared by the `/api/v1` GET routes; none in LOCAL
mode unless set, and 0 turns one off. A client may spend its whole budget at once, then
one request every 60/N s. The limited routes' successful answers carry `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` (seconds until the budget is full again);
past the budget, 429 `rate_limited` with those and `Retry-After` in whole seconds (an
ingest's 429 may also be `queue_full`). `/health`, `/metrics` and the docs are never
limited.

**Errors** all have one shape, `{"error": code, "detail": text}`:
"""


def openapi_schema() -> dict[str, Any]:
    """The gateway's OpenAPI document (the app is built, never started)."""
    from gateway.app import create_app
    from services.common.config import Settings

    return create_app(Settings(mode="LOCAL")).openapi()


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    text = str(schema.get("type", "object"))
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum") if k in schema]
    default = [f"default {json.dumps(schema['default'])}"] if "default" in schema else []
    extra = ", ".join(bounds + default)
    return f"{text} ({extra})" if extra else text


def _field_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})"
    if schema.get("type") == "array":
        return f"list of {_field_type(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_field_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    fmt = f" ({schema['format']})" if "format" in schema else ""
    return f"{schema.get('type', 'any')}{fmt}"


def _shapes(spec: dict[str, Any]) -> list[str]:
    parts = ["## Shapes\n"]
    for name, schema in sorted(spec["components"]["schemas"].items()):
        parts.append(f"### {name}\n")
        if schema.get("description"):
            parts.append(_cell(schema["description"]) + "\n")
        parts.append("| field | type | required | description |\n| --- | --- | --- | --- |")
        required = set(schema.get("required", []))
        for field, prop in schema.get("properties", {}).items():
            parts.append(
                f"| `{field}` | {_field_type(prop)} | {'yes' if field in required else 'no'} "
                f"| {_cell(prop.get('description', ''))} |"
            )
        parts.append("")
    return parts


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _body_example(spec: dict[str, Any], response: dict[str, Any]) -> tuple[str, Any]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if not ref:
        return "", None
    name = ref.rsplit("/", 1)[1]
    examples = spec["components"]["schemas"][name].get("examples") or [None]
    return name, examples[0]


def render(spec: dict[str, Any]) -> str:
    """The Markdown page for `spec`."""
    _, error_example = _body_example(
        spec, {"content": {"application/json": {"schema": {"$ref": "#/x/ErrorBody"}}}}
    )
    parts = [HEADER, f"```json\n{json.dumps(error_example, indent=2)}\n```\n"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            parts.append(f"## `{method.upper()} {path}`\n\n{op.get('summary', '')}.\n")
            if op.get("description"):
                parts.append(op["description"].strip() + "\n")
            params = op.get("parameters", [])
            if params:
                parts.append("| parameter | in | required | type | description |")
                parts.append("| --- | --- | --- | --- | --- |")
                for p in params:
                    parts.append(
                        f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} "
                        f"| {_type(p['schema'])} | {_cell(p.get('description', ''))} |"
                    )
                parts.append("")
            parts.append("| status | meaning | body |\n| --- | --- | --- |")
            example = None
            for status, response in op["responses"].items():
                body, sample = _body_example(spec, response)
                if status.startswith("2") and sample is not None:
                    example = sample
                if not body:
                    media = next(iter(response.get("content", {})), "")
                    body = media.split(";")[0]
                shape = f"[{body}](#{body.lower()})" if body and "/" not in body else body
                parts.append(f"| {status} | {_cell(response['description'])} | {shape or '-'} |")
            parts.append("")
            if example is not None:
                parts.append(f"```json\n{json.dumps(example, indent=2)}\n```\n")
    parts += _shapes(spec)
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/api.md is stale")
    args = parser.parse_args(argv)
    fresh = render(openapi_schema())
    if args.check:
        if not API_DOC.exists() or API_DOC.read_text() != fresh:
            print("docs/api.md is out of date, run `make gen`", file=sys.stderr)
            return 1
        return 0
    API_DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
