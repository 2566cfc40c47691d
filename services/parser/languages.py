"""Which files are source files, and in which language (P5: each one becomes a node)."""

from __future__ import annotations

from neo_alexandria.v1 import graph_pb2

EXTENSIONS: dict[str, int] = {
    ".py": graph_pb2.LANGUAGE_PYTHON,
    ".pyi": graph_pb2.LANGUAGE_PYTHON,
    ".js": graph_pb2.LANGUAGE_JAVASCRIPT,
    ".jsx": graph_pb2.LANGUAGE_JAVASCRIPT,
    ".mjs": graph_pb2.LANGUAGE_JAVASCRIPT,
    ".cjs": graph_pb2.LANGUAGE_JAVASCRIPT,
    ".ts": graph_pb2.LANGUAGE_TYPESCRIPT,
    ".tsx": graph_pb2.LANGUAGE_TYPESCRIPT,
    ".mts": graph_pb2.LANGUAGE_TYPESCRIPT,
    ".cts": graph_pb2.LANGUAGE_TYPESCRIPT,
    ".java": graph_pb2.LANGUAGE_JAVA,
    ".go": graph_pb2.LANGUAGE_GO,
}


def language_of(name: str) -> int | None:
    """The `graph_pb2.Language` of a file name or path, or None when it is not source."""
    dot = name.rfind(".")
    if dot <= name.rfind("/"):
        return None
    return EXTENSIONS.get(name[dot:].lower())
