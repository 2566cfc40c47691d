"""The values a language plugin passes between its extractor and its resolver.

An extractor runs in a worker process on one file's bytes and returns an
`Extraction` (picklable); the resolver runs once per repository over every file
of its language and returns a `Resolution`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Extraction:
    """One file's imports (records of the language's own type) and a parse note, if any."""

    imports: tuple[Any, ...] = ()
    error: str | None = None


@dataclass(slots=True)
class Resolution:
    """Edges `(source, target, graph_pb2.EdgeKind)` and unresolved `(source, specifier)`."""

    edges: list[tuple[int, int, int]] = field(default_factory=list)
    unresolved: list[tuple[int, str]] = field(default_factory=list)
