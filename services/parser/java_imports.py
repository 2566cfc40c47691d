"""Extract a Java file's package, imports, declared types and type references with one query.

What the resolver needs to do what javac does (see `resolve_java`):

- `package` (dotted, "" for the unnamed package) and every `import`, with its
  `static` and `.*` flags, in source order;
- `types`: the top-level classes, interfaces, enums, records and annotation types
  (`module-info.java` and `package-info.java` declare none);
- `references`: the simple names the file uses as types: every `type_identifier`
  that is not the tail of a scoped type (`Outer` of `Outer.Inner`, all of `List<Foo>`,
  `extends`/`implements`/`throws`/`new`/casts/`instanceof`/`X.class`), annotation
  names (`Outer` of `@Outer.Anno`), and, by the Java naming convention, identifiers
  starting with an upper-case letter used as the object of a call, a field access or
  a method reference (`Util.call()`, `Constants.X`, `Factory::make`). Names the file
  declares itself (its types, nested types and type parameters) shadow everything
  else, so they are left out;
- `qualified`: dotted names written in code whose first segment does not start with
  an upper-case letter, i.e. may be a package: scoped types (`java.util.List`),
  scoped annotations (`@com.acme.Marker`), the `uses`/`provides` types of
  `module-info.java`, and expression chains of three segments or more
  (`com.acme.Strings.join(…)`; the far more common two-segment `object.field` is
  left out, so `acme.Strings.join(…)` with a one-segment package is missed).

tree-sitter accepts any bytes, so every file parses; names are decoded with
replacement characters and written without spacing or comments. A file with syntax
errors still yields everything tree-sitter recognised, plus a note.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import tree_sitter_java
from tree_sitter import Language, Node, Query

from services.parser.identifiers import count_terms
from services.parser.records import Extraction
from services.parser.treesitter import parse, run_query, syntax_note

LANGUAGE = Language(tree_sitter_java.language())

_QUERY = Query(
    LANGUAGE,
    r"""
(package_declaration [(scoped_identifier) (identifier)] @package)
(import_declaration) @import
[(class_declaration) (interface_declaration) (enum_declaration) (record_declaration)
 (annotation_type_declaration)] @declaration
(type_parameter (type_identifier) @type_parameter)
(type_identifier) @ref
(scoped_type_identifier (type_identifier) @tail .)
[(annotation name: (identifier) @ref) (marker_annotation name: (identifier) @ref)]
[(method_invocation object: (identifier) @object)
 (field_access object: (identifier) @object)
 (method_reference . (identifier) @object)]
(scoped_type_identifier) @qualified
(field_access object: (field_access)) @qualified
[(annotation name: (scoped_identifier) @qualified)
 (marker_annotation name: (scoped_identifier) @qualified)]
(uses_module_directive type: (scoped_identifier) @module_type)
(provides_module_directive (scoped_identifier) @module_type)
(provides_module_directive (identifier) @ref)
""",
)

_SPACING = re.compile(rb"\s+|//[^\n]*|/\*.*?\*/", re.DOTALL)


@dataclass(frozen=True, slots=True)
class JavaImport:
    """`import static a.b.C.*;` is JavaImport("a.b.C", static=True, wildcard=True)."""

    name: str
    static: bool = False
    wildcard: bool = False

    @property
    def specifier(self) -> str:
        """The import as written, without `import`/`static`: "a.b.C.*"."""
        return f"{self.name}.*" if self.wildcard else self.name


@dataclass(frozen=True, slots=True)
class JavaFile:
    """What one Java file declares and uses (see the module docstring).

    `imports` and `types` are in source order, `references` and `qualified` sorted.
    """

    package: str = ""
    imports: tuple[JavaImport, ...] = ()
    types: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    qualified: tuple[str, ...] = ()


def _decode(text: bytes | None) -> str:
    return (text or b"").decode("utf-8", errors="replace")


def _dotted(node: Node) -> str:
    """`a . /* c */ b` is `a.b`: the node's text without spacing or comments."""
    return _decode(_SPACING.sub(b"", node.text or b""))


def _in_order(nodes: list[Node]) -> list[Node]:
    """Captures by position (the query returns them grouped by match, not in source order)."""
    return sorted(nodes, key=lambda node: node.start_byte)


def _names(nodes: Iterable[Node]) -> set[str]:
    """Distinct texts, decoded once each."""
    return {_decode(text) for text in {node.text for node in nodes}}


def _import(node: Node) -> JavaImport | None:
    name = ""
    static = wildcard = False
    for child in node.children:
        kind = child.type
        if kind in ("scoped_identifier", "identifier"):
            name = _dotted(child)
        elif kind == "static":
            static = True
        elif kind == "asterisk":
            wildcard = True
    return JavaImport(name, static, wildcard) if name else None


def _declarations(nodes: list[Node]) -> tuple[list[str], set[str]]:
    """Top-level type names in source order, and every declared type name.

    In source order, a declaration is top-level unless it starts inside the previous
    top-level one.
    """
    top: list[str] = []
    every: set[str] = set()
    end = -1
    for node in _in_order(nodes):
        name_node = node.child_by_field_name("name")
        if name_node is None:
            continue
        name = _decode(name_node.text)
        every.add(name)
        if node.start_byte >= end:
            end = node.end_byte
            top.append(name)
    return top, every


def _chains(captures: dict[str, list[Node]]) -> list[str]:
    """The dotted names written in code: of the nested `qualified` captures starting at
    one byte the longest, type arguments cut, kept if every segment is an identifier
    and the first is not `this`/`super`."""
    longest: dict[int, Node] = {}
    for node in captures.get("qualified", []):
        known = longest.get(node.start_byte)
        if known is None or node.end_byte > known.end_byte:
            longest[node.start_byte] = node
    chains: list[str] = []
    for node in longest.values():
        name = _dotted(node).partition("<")[0]
        parts = name.replace("$", "_").split(".")
        if parts[0] not in ("this", "super") and all(part.isidentifier() for part in parts):
            chains.append(name)
    return chains


def _references(captures: dict[str, list[Node]], chains: list[str], declared: set[str]) -> set[str]:
    """Type names used, minus the file's own: each `ref` text seen more often than as a
    tail, upper-case-initial objects, and the upper-case-initial heads of chains."""
    counts = Counter(node.text for node in captures.get("ref", []))
    counts.subtract(node.text for node in captures.get("tail", []))
    found = {_decode(text) for text, count in counts.items() if count > 0}
    found.update(name for name in _names(captures.get("object", [])) if name[:1].isupper())
    found.update(chain.partition(".")[0] for chain in chains if chain[:1].isupper())
    return found - declared - _names(captures.get("type_parameter", []))


def extract(path: str, source: bytes) -> Extraction:
    """The `JavaFile` of one Java file, a syntax-error note if any, and its identifier
    tokens."""
    tree = parse(LANGUAGE, source)
    captures = run_query(_QUERY, tree.root_node)
    packages = captures.get("package", [])
    imports = (_import(node) for node in _in_order(captures.get("import", [])))
    top, declared = _declarations(captures.get("declaration", []))
    chains = _chains(captures)
    qualified = {chain for chain in chains if "." in chain and not chain[:1].isupper()}
    qualified.update(_dotted(node) for node in captures.get("module_type", []))
    facts = JavaFile(
        package=_dotted(packages[0]) if packages else "",
        imports=tuple(imp for imp in imports if imp is not None),
        types=tuple(dict.fromkeys(top)),
        references=tuple(sorted(_references(captures, chains, declared))),
        qualified=tuple(sorted(qualified)),
    )
    terms = count_terms("java", path, source)
    return Extraction(facts, syntax_note(tree.root_node), terms)
