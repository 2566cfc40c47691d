"""Extract a JavaScript or TypeScript file's imports from its tree-sitter tree.

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

The patterns are written as a tree-sitter query, but a query walks the whole tree
(a quarter of the parse time); so the nodes of the words `import`, `export` and
`require` are looked up instead and matched by hand, with the same result (a
Hypothesis test and 1,369 real and 600 damaged files agree). The query itself runs
only on flat error trees, where walking up from a node is slow.
"""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Query

from neo_alexandria.v1 import graph_pb2
from services.parser.identifiers import count_terms
from services.parser.records import MAX_SPECIFIER, Extraction
from services.parser.treesitter import (
    flat_error_tree,
    keyword_nodes,
    parse,
    run_matches,
    syntax_note,
)

IMPORT = graph_pb2.EDGE_KIND_IMPORT
REEXPORT = graph_pb2.EDGE_KIND_REEXPORT
REQUIRE = graph_pb2.EDGE_KIND_REQUIRE
DYNAMIC = graph_pb2.EDGE_KIND_DYNAMIC
TYPE_ONLY = graph_pb2.EDGE_KIND_TYPE_ONLY

_COMMON = r"""
(import_statement source: (string) @source) @import
(export_statement source: (string) @source) @reexport
(call_expression
  function: (import)
  arguments: (arguments . [(string) (template_string)] @source)) @dynamic
(call_expression
  function: (identifier) @callee
  arguments: (arguments . [(string) (template_string)] @source .))
"""
# `f("x")` calls match whatever `f` is and `require` is picked out in Python: an
# `#eq?` predicate costs ~85 µs a match in py-tree-sitter (6 s for 70,000 calls).
_TYPESCRIPT = r"(import_statement (import_require_clause source: (string) @source)) @import_require"

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


@dataclass(frozen=True, slots=True)
class JsImport:
    """One import: the specifier as written and its `graph_pb2.EdgeKind`."""

    specifier: str
    kind: int


def _language_of(path: str) -> Language:
    dot = path.rfind(".")
    return _BY_EXTENSION.get(path[dot:].lower() if dot >= 0 else "", _JAVASCRIPT)


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


Match = dict[str, list[Node]]
"""Nodes by capture name, as `QueryCursor.matches` gives them."""


def _kind(match: Match, typed: bool, flat: bool) -> int | None:
    """The edge kind of one match, or None for a call of something other than `require`."""
    if "callee" in match:
        return REQUIRE if match["callee"][0].text == b"require" else None
    if "import" in match:
        return TYPE_ONLY if typed and _type_only(match["import"][0]) else IMPORT
    if "reexport" in match:
        return TYPE_ONLY if typed and _type_only(match["reexport"][0]) else REEXPORT
    if "import_require" in match:
        return TYPE_ONLY if _has_type_keyword(match["import_require"][0]) else REQUIRE
    # `import("x")`; its type position is not looked for in a flat error tree (see
    # `treesitter.flat_error_tree`), where walking up from it would be quadratic.
    call = match["dynamic"][0]
    return TYPE_ONLY if typed and not flat and _in_type_position(call) else DYNAMIC


def _string_source(node: Node | None) -> Node | None:
    return node if node is not None and node.type == "string" else None


def _keyword_match(node: Node) -> Match | None:
    """What the query would match at keyword `node` (`import`, `export`, `require`)."""
    parent = node.parent
    if parent is not None and parent.type == "import":  # `import(…)`: the keyword's own node
        node, parent = parent, parent.parent
    kind = parent.type if parent is not None else ""
    if parent is None or kind not in ("import_statement", "export_statement", "call_expression"):
        return None
    if kind == "import_statement":
        source = _string_source(parent.child_by_field_name("source"))
        if source is not None:
            return {"source": [source], "import": [parent]}
        for clause in parent.named_children:
            source = _string_source(clause.child_by_field_name("source"))
            if clause.type == "import_require_clause" and source is not None:
                return {"source": [source], "import_require": [parent]}
        return None
    if kind == "export_statement":
        source = _string_source(parent.child_by_field_name("source"))
        return {"source": [source], "reexport": [parent]} if source is not None else None
    arguments = parent.child_by_field_name("arguments")
    if parent.child_by_field_name("function") != node or arguments is None:
        return None
    values = arguments.named_children
    if not values or values[0].type not in ("string", "template_string"):
        return None
    if node.type == "import":
        return {"source": [values[0]], "dynamic": [parent]}
    return {"source": [values[0]], "callee": [node]} if len(values) == 1 else None


def _keyword_matches(root: Node, source: bytes) -> list[Match]:
    """The query's matches, found from the nodes of the keywords themselves: no walk over
    the whole tree (a query's costs about a quarter of the parse). Not for a flat error
    tree, where `Node.parent` is slow."""
    found = []
    for word in (b"import", b"export", b"require"):
        for node in keyword_nodes(root, source, word):
            match = _keyword_match(node)
            if match is not None:
                found.append(match)
    return found


def extract(path: str, source: bytes) -> Extraction:
    """The imports of one JavaScript/TypeScript file (a tuple of `JsImport` in source
    order, each (specifier, kind) once), a syntax-error note if any, and its identifier
    tokens."""
    language = _language_of(path)
    typed = language is not _JAVASCRIPT
    tree = parse(language, source)
    grammar = "typescript" if typed else "javascript"
    terms = count_terms(grammar, path, source)
    if not tree.root_node.has_error and not any(word in source for word in _KEYWORDS):
        return Extraction((), None, terms)  # no import to find: skip the query's walk
    flat = flat_error_tree(tree.root_node)
    if flat:
        matches = run_matches(_QUERIES[language], tree.root_node)
    else:
        matches = _keyword_matches(tree.root_node, source)
    found: list[tuple[int, JsImport]] = []
    for match in matches:
        kind = _kind(match, typed, flat)
        written = match["source"][0]
        specifier = _specifier(written)
        if kind is not None and specifier is not None:
            found.append((written.start_byte, JsImport(specifier, kind)))
    found.sort(key=lambda item: item[0])
    facts = tuple(dict.fromkeys(record for _, record in found))
    return Extraction(facts, syntax_note(tree.root_node), terms)
