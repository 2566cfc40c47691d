"""Per-language import support: an extractor (worker side) and a resolver (repository side).

A language with no plugin still yields nodes, just no edges. Adding a language is
one entry here:

- `extract(path, source) -> Extraction` runs in worker processes on one file (its
  repository-relative path and bytes), so it must be a picklable module-level
  function whose `facts` pickle too;
- `resolve(repo, facts) -> Resolution` runs once per repository with a `RepoIndex`
  and the facts of every file it handles, keyed by node index. Languages that
  import each other (JavaScript and TypeScript) share one resolve function and are
  resolved together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from neo_alexandria.v1 import graph_pb2
from services.parser import (
    go_imports,
    java_imports,
    js_imports,
    python_imports,
    resolve_go,
    resolve_java,
    resolve_js,
    resolve_python,
)
from services.parser.records import Extraction, RepoIndex, Resolution

Extractor = Callable[[str, bytes], Extraction]
Resolver = Callable[[RepoIndex, Mapping[int, Any]], Resolution]


@dataclass(frozen=True)
class LanguagePlugin:
    """How one language's files yield edges."""

    extract: Extractor
    resolve: Resolver


PLUGINS: dict[int, LanguagePlugin] = {
    graph_pb2.LANGUAGE_PYTHON: LanguagePlugin(python_imports.extract, resolve_python.resolve),
    graph_pb2.LANGUAGE_JAVA: LanguagePlugin(java_imports.extract, resolve_java.resolve),
    graph_pb2.LANGUAGE_GO: LanguagePlugin(go_imports.extract, resolve_go.resolve),
    graph_pb2.LANGUAGE_JAVASCRIPT: LanguagePlugin(js_imports.extract, resolve_js.resolve),
    graph_pb2.LANGUAGE_TYPESCRIPT: LanguagePlugin(js_imports.extract, resolve_js.resolve),
}
