"""The REST routes are exactly IngestService's google.api.http annotations."""

from __future__ import annotations

import re
from pathlib import Path

from google.api import annotations_pb2

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


def test_every_annotation_has_its_route(tmp_path: Path) -> None:
    schema = create_app(Settings(alexandria_data_dir=tmp_path)).openapi()
    served = {(verb, path) for path, ops in schema["paths"].items() for verb in ops}
    missing = annotated_routes() - served
    assert not missing, f"annotated in proto but not served: {missing}"
    assert len(annotated_routes()) == 8


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
