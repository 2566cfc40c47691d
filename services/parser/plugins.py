"""Per-language import support: an extractor (worker side) and a resolver (repository side).

A language with no plugin still yields nodes, just no edges. Adding a language is
one entry here: `extract(bytes) -> Extraction` must be a picklable module-level
function (it runs in worker processes), and `resolve(paths, imports)` receives every
node path plus the extracted imports keyed by the node indices of its language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neo_alexandria.v1 import graph_pb2
from services.parser import python_imports, resolve_python
from services.parser.records import Extraction, Resolution


@dataclass(frozen=True)
class LanguagePlugin:
    """How one language's files yield edges."""

    extract: Callable[[bytes], Extraction]
    resolve: Callable[[Sequence[str], Mapping[int, Sequence[Any]]], Resolution]


PLUGINS: dict[int, LanguagePlugin] = {
    graph_pb2.LANGUAGE_PYTHON: LanguagePlugin(python_imports.extract, resolve_python.resolve),
}
