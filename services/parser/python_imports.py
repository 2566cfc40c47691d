"""Extract a Python file's imports from its tree-sitter tree.

Every `import` and `from … import` counts wherever it appears (module level,
inside functions, in `try`/`except ImportError` fallbacks, under
`if TYPE_CHECKING:`, in `.pyi` stubs), since each is a dependency of the file;
those under `if TYPE_CHECKING:` and all of a stub's are marked type-only.
`from __future__ import …` is a compiler directive, not a dependency, and is left
out. tree-sitter accepts any bytes, so files in any encoding (or with invalid
UTF-8) parse; identifiers are decoded with replacement characters. A file with
syntax errors still yields every import tree-sitter recognised, plus a note.

Extraction costs little beyond the parse. A query cursor visits every node of
the tree (about a third of the parse time, whatever the pattern), so instead the
words `import` and `TYPE_CHECKING` are found by a plain byte search and only the
node spanning each occurrence is looked up; in a string, a comment or a longer
name no keyword or identifier node spans it, and it is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter_python
from tree_sitter import Language, Node

from services.parser.identifiers import count_terms
from services.parser.records import Extraction
from services.parser.treesitter import keyword_nodes, parse, syntax_note, text

LANGUAGE = Language(tree_sitter_python.language())


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


def _dotted(node: Node) -> str:
    """`a . b` and `a.b` are the same module: join the identifiers, drop the spacing."""
    return ".".join(text(part) for part in node.named_children)


def _imported(node: Node) -> Node:
    """The dotted name of a name or `x as y` clause."""
    if node.type == "aliased_import":
        return node.child_by_field_name("name") or node
    return node


def _plain_imports(node: Node, type_only: bool) -> Iterator[PythonImport]:
    """`import a.b as c, d`: one record per module."""
    for name in node.children_by_field_name("name"):
        yield PythonImport(_dotted(_imported(name)), (), 0, type_only)


def _from_import(node: Node, type_only: bool) -> Iterator[PythonImport]:
    """`from ..a import b, c as d` (or `*`): one record."""
    module_node = node.child_by_field_name("module_name")
    if module_node is None:
        return
    level = 0
    module = ""
    if module_node.type == "relative_import":
        for child in module_node.named_children:
            if child.type == "import_prefix":
                level = text(child).count(".")
            elif child.type == "dotted_name":
                module = _dotted(child)
    else:
        module = _dotted(module_node)
    names = ["*" for child in node.named_children if child.type == "wildcard_import"]
    names.extend(_dotted(_imported(name)) for name in node.children_by_field_name("name"))
    yield PythonImport(module, tuple(names), level, type_only)


_STATEMENTS = {"import_statement": _plain_imports, "import_from_statement": _from_import}


def _type_checking_blocks(root: Node, source: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the bodies of `if TYPE_CHECKING:` / `if x.TYPE_CHECKING:`."""
    blocks: list[tuple[int, int]] = []
    for node in keyword_nodes(root, source, b"TYPE_CHECKING"):
        parent = node.parent
        if node.type != "identifier" or parent is None:
            continue
        if parent.type == "attribute" and parent.child_by_field_name("attribute") == node:
            node, parent = parent, parent.parent
        if parent is None or parent.type != "if_statement":
            continue
        body = parent.child_by_field_name("consequence")
        if body is not None and parent.child_by_field_name("condition") == node:
            blocks.append((body.start_byte, body.end_byte))
    return blocks


def extract(path: str, source: bytes) -> Extraction:
    """The imports of one Python file (a tuple of `PythonImport`, in source order), a
    syntax-error note if any, and its identifier tokens. Every import of a stub (`.pyi`,
    never executed) is type-only."""
    root = parse(LANGUAGE, source).root_node
    stub = path.endswith(".pyi")
    guarded = _type_checking_blocks(root, source)
    found: list[PythonImport] = []
    for keyword in keyword_nodes(root, source, b"import"):
        statement = keyword.parent
        if keyword.type != "import" or statement is None:
            continue
        records = _STATEMENTS.get(statement.type)
        if records is not None:
            start = statement.start_byte
            found.extend(records(statement, stub or any(s <= start < e for s, e in guarded)))
    terms = count_terms("python", path, source)
    return Extraction(tuple(found), syntax_note(root), terms)
