"""Extract a Python file's imports with one tree-sitter query.

Every `import` and `from … import` counts wherever it appears (module level,
inside functions, under `if TYPE_CHECKING:`), since each is a dependency the file
can execute. `from __future__ import …` is a compiler directive, not a dependency,
and is left out. tree-sitter accepts any bytes, so files in any encoding (or with
invalid UTF-8) parse; identifiers are decoded with replacement characters. A file
with syntax errors still yields every import tree-sitter recognised, plus a note.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import tree_sitter_python
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from services.parser.records import Extraction

LANGUAGE = Language(tree_sitter_python.language())

_QUERY = Query(
    LANGUAGE,
    r"""
(import_statement name: [(dotted_name) @module (aliased_import name: (dotted_name) @module)])
(import_from_statement) @from
(if_statement
  condition: [(identifier) (attribute)] @condition
  consequence: (block) @type_checking
  (#match? @condition "(^|\\.)TYPE_CHECKING$"))
(ERROR) @error
""",
)

_local = threading.local()


@dataclass(frozen=True, slots=True)
class PythonImport:
    """One imported module: `from ..a.b import c, d` is module "a.b", names (c, d), level 2.

    `import a.b` has no names; `from a import *` has names ("*",).
    """

    module: str
    names: tuple[str, ...] = ()
    level: int = 0
    type_only: bool = False

    @property
    def specifier(self) -> str:
        """The module as written, leading dots included."""
        return "." * self.level + self.module


def _parser() -> Parser:
    """One parser per thread (and so per worker process): parsers are not thread-safe."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(LANGUAGE)
    return parser


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def _dotted(node: Node) -> str:
    """`a . b` and `a.b` are the same module: join the identifiers, drop the spacing."""
    return ".".join(_text(part) for part in node.named_children)


def _from_import(node: Node, type_only: bool) -> PythonImport | None:
    module_node = node.child_by_field_name("module_name")
    if module_node is None:
        return None
    level = 0
    module = ""
    if module_node.type == "relative_import":
        for child in module_node.named_children:
            if child.type == "import_prefix":
                level = _text(child).count(".")
            elif child.type == "dotted_name":
                module = _dotted(child)
    else:
        module = _dotted(module_node)
    names: list[str] = []
    for child in node.named_children:
        if child.type == "wildcard_import":
            names.append("*")
    for name in node.children_by_field_name("name"):
        target = name.child_by_field_name("name") if name.type == "aliased_import" else name
        if target is not None:
            names.append(_dotted(target))
    return PythonImport(module, tuple(names), level, type_only)


def extract(path: str, source: bytes) -> Extraction:
    """The imports of one Python file (a tuple of `PythonImport`, in source order) and a
    syntax-error note if any. `path` is unused: every Python file parses alike."""
    tree = _parser().parse(source)
    captures = QueryCursor(_QUERY).captures(tree.root_node)
    guarded = [(n.start_byte, n.end_byte) for n in captures.get("type_checking", [])]

    def under_type_checking(node: Node) -> bool:
        return any(start <= node.start_byte < end for start, end in guarded)

    found: list[tuple[int, PythonImport]] = []
    for node in captures.get("module", []):
        found.append(
            (node.start_byte, PythonImport(_dotted(node), (), 0, under_type_checking(node)))
        )
    for node in captures.get("from", []):
        record = _from_import(node, under_type_checking(node))
        if record is not None:
            found.append((node.start_byte, record))
    found.sort(key=lambda item: item[0])
    return Extraction(tuple(record for _, record in found), _syntax_note(tree.root_node, captures))


def _syntax_note(root: Node, captures: dict[str, list[Node]]) -> str | None:
    if not root.has_error:
        return None
    errors = captures.get("error", [])
    if not errors:
        return "syntax error (missing token); imports found were kept"
    line = min(node.start_point.row for node in errors) + 1
    return f"syntax error near line {line}; imports found were kept"
