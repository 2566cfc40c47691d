"""Generated contract code in gen/ matches proto/ (CI fails when it is stale)."""

from __future__ import annotations

from pathlib import Path

from alexandria.codegen import check, generate

ROOT = Path(__file__).resolve().parents[2]


def test_committed_gen_is_fresh() -> None:
    assert check(ROOT / "gen") == []


def test_check_reports_a_hand_edit(tmp_path: Path) -> None:
    generate(tmp_path)
    stub = tmp_path / "neo_alexandria" / "v1" / "jobs_pb2.py"
    stub.write_text(stub.read_text() + "\n# edited\n")
    assert check(tmp_path) == ["stale: neo_alexandria/v1/jobs_pb2.py"]


def test_contracts_import_with_only_protobuf_and_grpc() -> None:
    from neo_alexandria.v1 import (
        embedder_service_pb2_grpc,
        ingest_service_pb2,
        parser_service_pb2_grpc,
    )

    names = ingest_service_pb2.DESCRIPTOR.services_by_name
    assert "IngestService" in names
    assert hasattr(parser_service_pb2_grpc, "ParserServiceStub")
    assert hasattr(embedder_service_pb2_grpc, "EmbedderServiceStub")
