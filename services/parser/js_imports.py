"""Extract a JavaScript or TypeScript file's imports with one tree-sitter query.

The grammar follows the extension: `.ts`/`.mts`/`.cts` → TypeScript, `.tsx` → TSX,
anything else (`.js`, `.jsx`, `.mjs`, `.cjs`) → JavaScript, which parses JSX. Every
import counts wherever it appears, with its `graph_pb2.EdgeKind`:

- IMPORT: `import … from "x"` and the side-effect `import "x"`;
- REEXPORT: `export … from "x"`, `export * from "x"`, `export * as n from "x"`;
- REQUIRE: CommonJS `require("x")` with one argument, TypeScript `import x = require("x")`;
- DYNAMIC: `import("x")` in an expression;
- TYPE_ONLY: `import type …`, `export type … from`, an import or re-export whose every
  specifier is `type` (`import { type A, type B } from "x"`), `import type x = require("x")`, and
  `import("x")` in a type position (`typeof import("x")`, `let a: import("x").T`).

Only string literals and template strings without substitutions are specifiers;
computed ones (`require(name)`) are not dependencies we can know. Specifiers are kept
as written (escape sequences are not decoded), cut to `MAX_SPECIFIER + 1` characters
so that an oversized one stays recognisable as such to the resolver. A file with
syntax errors still yields every import tree-sitter recognised, plus a note.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from neo_alexandria.v1 import graph_pb2
from services.parser.python_imports import _syntax_note
from services.parser.records import MAX_SPECIFIER, Extraction

IMPORT = graph_pb2.EDGE_KIND_IMPORT
REEXPORT = graph_pb2.EDGE_KIND_REEXPORT
REQUIRE = graph_pb2.EDGE_KIND_REQUIRE
DYNAMIC = graph_pb2.EDGE_KIND_DYNAMIC
TYPE_ONLY = graph_pb2.EDGE_KIND_TYPE_ONLY

_COMMON = r"""
(import_statement source: (string) @import)
(export_statement source: (string) @reexport)
(call_expression
  function: (import)
  arguments: (arguments . [(string) (template_string)] @dynamic))
(call_expression
  function: (identifier) @_require
  arguments: (arguments . [(string) (template_string)] @require .)
  (#eq? @_require "require"))
(ERROR) @error
"""
_TYPESCRIPT = r"(import_require_clause source: (string) @import_require)"

_JAVASCRIPT = Language(tree_sitter_javascript.language())
_TS = Language(tree_sitter_typescript.language_typescript())
_TSX = Language(tree_sitter_typescript.language_tsx())
_QUERIES = {
    _JAVASCRIPT: Query(_JAVASCRIPT, _COMMON),
    _TS: Query(_TS, _COMMON + _TYPESCRIPT),
    _TSX: Query(_TSX, _COMMON + _TYPESCRIPT),
}
_BY_EXTENSION = {".ts": _TS, ".mts": _TS, ".cts": _TS, ".tsx": _TSX}

# An `import("x")` below one of these (before a statement boundary) names a type.
_TYPE_CONTEXTS = frozenset(
    {
        "type_annotation",
        "type_query",
        "type_arguments",
        "type_parameters",
        "type_alias_declaration",
        "interface_declaration",
        "implements_clause",
        "extends_type_clause",
        "asserts_annotation",
        "type_predicate_annotation",
        "opting_type_annotation",
        "omitting_type_annotation",
    }
)
_CAST_EXPRESSIONS = frozenset({"as_expression", "satisfies_expression"})

_KEYWORDS = (b"import", b"from", b"require")
"""Every import form spells one of these (`export … from` only the second)."""

_local = threading.local()


@dataclass(frozen=True, slots=True)
class JsImport:
    """One import: the specifier as written and its `graph_pb2.EdgeKind`."""

    specifier: str
    kind: int


def _language_of(path: str) -> Language:
    dot = path.rfind(".")
    return _BY_EXTENSION.get(path[dot:].lower() if dot >= 0 else "", _JAVASCRIPT)


def _parser(language: Language) -> Parser:
    """One parser per grammar and thread (and so per worker process)."""
    parsers: dict[Language, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = Parser(language)
    return parser


def _specifier(node: Node) -> str | None:
    """The text between the quotes, or None for a template string with substitutions."""
    if node.type == "template_string" and any(
        child.type == "template_substitution" for child in node.named_children
    ):
        return None
    text = (node.text or b"")[1:-1]
    return text[: (MAX_SPECIFIER + 1) * 4].decode("utf-8", errors="replace")[: MAX_SPECIFIER + 1]


def _has_type_keyword(node: Node) -> bool:
    """`node` has a `type` keyword child (also inside an ERROR: `export type * from`)."""
    for child in node.children:
        if not child.is_named and child.type == "type":
            return True
        if child.type == "ERROR" and child.text == b"type":
            return True
    return False


def _named_specifiers(statement: Node) -> list[Node]:
    """The `{ … }` specifiers of an import or export statement (none if it has others)."""
    clauses = [c for c in statement.named_children if c.type in ("import_clause", "export_clause")]
    if len(clauses) != 1:
        return []
    clause = clauses[0]
    if clause.type == "import_clause":  # `import D, { a }` and `import * as n` name values
        if clause.named_child_count != 1 or clause.named_children[0].type != "named_imports":
            return []
        clause = clause.named_children[0]
    return [c for c in clause.named_children if c.type in ("import_specifier", "export_specifier")]


def _type_only(statement: Node) -> bool:
    """`import type …`, `export type …`, or every `{ … }` specifier marked `type`."""
    if _has_type_keyword(statement):
        return True
    specifiers = _named_specifiers(statement)
    return bool(specifiers) and all(_has_type_keyword(s) for s in specifiers)


def _in_type_position(node: Node) -> bool:
    """Whether `node` sits in a type (walking up to the enclosing statement at most)."""
    child, parent = node, node.parent
    while parent is not None:
        kind = parent.type
        if kind in _TYPE_CONTEXTS:
            return True
        if (
            kind in _CAST_EXPRESSIONS
            and parent.named_child_count
            and child != parent.named_children[0]
        ):
            return True
        if kind.endswith("statement") or kind in ("program", "statement_block", "class_body"):
            return False
        child, parent = parent, parent.parent
    return False


def _kind(capture: str, node: Node, typed: bool) -> int:
    """The edge kind of specifier `node` captured as `capture`."""
    if capture in ("import", "reexport"):
        statement = node.parent
        if typed and statement is not None and _type_only(statement):
            return TYPE_ONLY
        return IMPORT if capture == "import" else REEXPORT
    if capture == "import_require":
        clause = node.parent
        statement = clause.parent if clause is not None else None
        return TYPE_ONLY if statement is not None and _has_type_keyword(statement) else REQUIRE
    if capture == "dynamic":
        call = node.parent.parent if node.parent is not None else None
        return TYPE_ONLY if typed and call is not None and _in_type_position(call) else DYNAMIC
    return REQUIRE


def extract(path: str, source: bytes) -> Extraction:
    """The imports of one JavaScript/TypeScript file (a tuple of `JsImport` in source
    order, each (specifier, kind) once) and a syntax-error note if any."""
    language = _language_of(path)
    typed = language is not _JAVASCRIPT
    tree = _parser(language).parse(source)
    if not tree.root_node.has_error and not any(word in source for word in _KEYWORDS):
        return Extraction(())  # nothing to find: skip the query's walk over the tree
    captures = QueryCursor(_QUERIES[language]).captures(tree.root_node)
    found: list[tuple[int, JsImport]] = []
    for capture in ("import", "reexport", "import_require", "dynamic", "require"):
        for node in captures.get(capture, ()):
            specifier = _specifier(node)
            if specifier is not None:
                found.append((node.start_byte, JsImport(specifier, _kind(capture, node, typed))))
    found.sort(key=lambda item: item[0])
    facts = tuple(dict.fromkeys(record for _, record in found))
    return Extraction(facts, _syntax_note(tree.root_node, captures))
