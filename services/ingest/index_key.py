"""What a repository's index is made from, so an ingest of the same thing can be skipped.

A job's points are sealed with `<commit> <fingerprint> <job_id>`
(`services.common.vectors.read_indexed`). The fingerprint hashes the edge's own code (the
parser, the embedder, the ingest pipeline and the vector store's module, read as
files, not imported), the installed versions of what shapes their output (the
tree-sitter grammars, torch, numpy) and the job's parameters (training, walk graph,
history). A later ingest of the same commit with the same fingerprint ends
`unchanged`; any change to the code, a dependency or a parameter makes a full job,
with no version to bump by hand.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
from functools import cache
from pathlib import Path

from google.protobuf.json_format import MessageToDict

from neo_alexandria.v1 import embedder_service_pb2
from services.common.config import Settings

CODE = (
    "services.parser",
    "services.embedder",
    "services.ingest",
    "services.common.vectors",
    "services.common.candidate_payload",
)
"""Packages (every .py file in them) and modules whose code shapes what a job writes."""
DISTRIBUTIONS = ("tree-sitter", "torch", "numpy")
"""Installed distributions (a name prefix) whose versions shape it."""


def _files(name: str) -> list[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return sorted(
            path
            for location in spec.submodule_search_locations
            for path in Path(location).rglob("*.py")
        )
    return [Path(spec.origin)] if spec.origin else []


@cache
def code_digest() -> str:
    """A hash of `CODE`'s sources and `DISTRIBUTIONS`' versions."""
    digest = hashlib.sha256()
    for name in CODE:
        for path in _files(name):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    versions = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("_", "-").startswith(DISTRIBUTIONS)
    )
    digest.update(";".join(versions).encode())
    return digest.hexdigest()


def fingerprint(
    settings: Settings, parameters: embedder_service_pb2.TrainParameters, *, cochange_edges: bool
) -> str:
    """A short hash of the code (`code_digest`), the training `parameters` as configured
    (before a job sets its node count, id and seed) and the settings that shape the
    graph and the history."""
    inputs = {
        "code": code_digest(),
        "train": MessageToDict(parameters, preserving_proto_field_name=True),
        "cochange_edges": cochange_edges,
        "cochange_max_files": settings.cochange_max_files,
        "history_max_commits": settings.history_max_commits,
    }
    text = json.dumps(inputs, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
