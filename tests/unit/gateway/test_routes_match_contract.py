"""The REST routes are exactly IngestService's google.api.http annotations."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, FastAPI
from google.api import annotations_pb2
from starlette.routing import BaseRoute

from gateway.app import create_app
from neo_alexandria.v1 import ingest_service_pb2
from services.common.config import Settings


def annotated_routes() -> set[tuple[str, str]]:
    routes = set()
    service = ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"]
    for method in service.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        path = re.sub(r"\{(\w+)=\*\*\}", r"{\1}", getattr(rule, verb))
        routes.add((verb, path))
    return routes


# Served outside the contract: the operations' probes, not the product's API.
NOT_IN_THE_CONTRACT = {("get", "/health"), ("get", "/metrics")}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (verb, path) the app answers, whether or not its OpenAPI schema shows it,
    but FastAPI's own documentation pages."""
    own = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    routes: set[tuple[str, str]] = set()
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None) or getattr(route, "routes", None)
        if included is not None:  # an included router (FastAPI keeps it whole) or a mount
            pending.extend(getattr(included, "routes", included))
            continue
        if not isinstance(route, BaseRoute) or getattr(route, "path", None) in own:
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {repo_url:anypath}
        methods = getattr(route, "methods", None) or set()
        routes.update((verb.lower(), path) for verb in methods - {"HEAD"})
    return routes


def test_every_annotation_has_its_route_and_every_route_its_annotation(tmp_path: Path) -> None:
    app = create_app(Settings(alexandria_data_dir=tmp_path))
    served, annotated = served_routes(app), annotated_routes()
    assert len(annotated) == 8
    assert not annotated - served, f"annotated in proto but not served: {annotated - served}"
    unannotated = served - annotated - NOT_IN_THE_CONTRACT
    assert not unannotated, f"served but not annotated in proto: {unannotated}"
    assert served >= NOT_IN_THE_CONTRACT
    documented = {(verb, path) for path, ops in app.openapi()["paths"].items() for verb in ops}
    assert documented == served


def test_a_route_outside_the_contract_is_caught(tmp_path: Path) -> None:
    app = create_app(Settings(alexandria_data_dir=tmp_path))
    extra = APIRouter()
    extra.add_api_route("/api/v1/graph/extra", lambda: {}, methods=["GET"])
    extra.add_api_route("/api/v1/hidden", lambda: {}, methods=["POST"], include_in_schema=False)
    app.include_router(extra)
    assert served_routes(app) - annotated_routes() - NOT_IN_THE_CONTRACT == {
        ("get", "/api/v1/graph/extra"),
        ("post", "/api/v1/hidden"),
    }


def test_every_operation_documents_its_answers_with_examples(tmp_path: Path) -> None:
    schema = create_app(Settings(alexandria_data_dir=tmp_path)).openapi()
    for path, operations in schema["paths"].items():
        for verb, operation in operations.items():
            codes = set(operation["responses"])
            assert codes & {"200", "202"}, (verb, path)
            assert any(code.startswith(("4", "5")) for code in codes), (verb, path)
    models = schema["components"]["schemas"]
    for name in (
        "IngestAccepted",
        "Job",
        "WorkerStatuses",
        "Repositories",
        "SimilarFiles",
        "SearchResults",
        "RepositoryFiles",
    ):
        assert models[name].get("examples"), name
    assert models["ErrorBody"]["required"] == ["error", "detail"]
