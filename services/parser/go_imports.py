"""Extract a Go file's package clause, imports and `ignore` build constraint.

The facts are a `GoFile`: the package name ("" without a package clause); the import
paths in source order as written between the quotes (plain, aliased, dot and blank
imports, single or grouped, interpreted or raw strings; escapes are not decoded);
whether a build constraint excludes the file from every build; and the canonical
import comment (`package x // import "example.com/x"`, found by go/build's rule: on
the package clause's line, only spaces between).

- cgo's `import "C"` names no package (it turns cgo on), so it is left out.
- Build constraints are read from the file header by go/build's own line rules (the
  leading blank and comment lines): the `//go:build` line if there is one, else the
  `// +build` lines followed by a blank line. Only exclusion from every build is
  evaluated: the file is `ignored` when its constraint is false with the tag `ignore`
  unset whatever the other tags are (`//go:build ignore`, `// +build ignore`,
  `ignore && linux`, an empty `// +build`). Files for other platforms (`//go:build
  windows`, `_linux.go`) stay in: the graph is structural and platform-neutral.
- Go requires imports before any other declaration, so only the prefix of the file
  before the first line starting with `func`, `type`, `var` or `const` is parsed; when
  that parse has errors the whole file is parsed instead. Hence imports placed after a
  declaration (invalid Go) are not seen, and a syntax error past the imports, which
  cannot change them, gets no note.
- A file with syntax errors still yields what tree-sitter recognised, plus a note.
- Identifier tokens (`identifiers.py`) come from the whole file's bytes, with no
  parse of their own.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import tree_sitter_go
from tree_sitter import Language, Node, Query, Tree

from services.parser.identifiers import count_terms
from services.parser.records import Extraction
from services.parser.treesitter import parse, run_query, syntax_note, text

LANGUAGE = Language(tree_sitter_go.language())

_QUERY = Query(
    LANGUAGE,
    r"""
(package_clause (package_identifier) @package)
(source_file (package_clause) @clause . (comment) @comment)
(import_spec path: (_) @path)
""",
)

_IMPORT_COMMENT = re.compile(r'[ \t]*import[ \t]+(?:"([^"\\\n]*)"|`([^`\n]*)`)[ \t\r]*')
_COMMENT_START = re.compile(rb"\s*(//|/\*|\Z)")
_FIRST_DECLARATION = re.compile(rb"^(?:func|type|var|const)\b", re.MULTILINE)
_GO_BUILD = re.compile(rb"//go:build(?:[ \t]|$)")
_PLUS_BUILD = re.compile(rb"//\s*\+build(?:\s|$)")
_EXPR_TOKEN = re.compile(r"\|\||&&|[()!]|[\w.]+")
_VALID_TAG = re.compile(r"[\w.]+")
_MAX_EXPR_TOKENS = 100
"""Longer `//go:build` expressions are not evaluated (and never recurse deeply)."""


@dataclass(frozen=True, slots=True)
class GoFile:
    """One Go file: its package clause, import paths in source order, whether a build
    constraint excludes it from every build, and its canonical import comment
    (`package x // import "example.com/x"`, "" when absent)."""

    package: str
    imports: tuple[str, ...] = ()
    ignored: bool = False
    import_comment: str = ""


def _unquote(literal: str) -> str:
    """The path inside `"…"` or a raw string; an unterminated one keeps what it has."""
    inner = literal[1:] if literal[:1] in ('"', "`") else literal
    return inner[:-1] if inner and inner[-1] == literal[:1] else inner


def _parse(source: bytes) -> Tree:
    """The tree of the import section alone when it parses cleanly, else of the whole
    file."""
    cut = _FIRST_DECLARATION.search(source)
    if cut is not None:
        tree = parse(LANGUAGE, source[: cut.start()])
        if not tree.root_node.has_error:
            return tree
    return parse(LANGUAGE, source)


def extract(path: str, source: bytes) -> Extraction:
    """The `GoFile` of one Go file, a syntax-error note if any, and its identifier tokens."""
    tree = _parse(source)
    captures = run_query(_QUERY, tree.root_node)
    packages = captures.get("package", [])
    package = text(min(packages, key=lambda n: n.start_byte)) if packages else ""
    paths = sorted(captures.get("path", []), key=lambda n: n.start_byte)
    imports = tuple(p for p in (_unquote(text(n)) for n in paths) if p != "C")
    facts = GoFile(package, imports, build_ignored(source), _import_comment(source, captures))
    return Extraction(facts, syntax_note(tree.root_node), count_terms("go", path, source))


def _import_comment(source: bytes, captures: dict[str, list[Node]]) -> str:
    """The path of a `// import "…"` or `/* import "…" */` comment that follows the
    package clause on its line (go/build's rule), or ""."""
    clauses = captures.get("clause", [])
    if not clauses:
        return ""
    clause = min(clauses, key=lambda n: n.start_byte)
    for comment in captures.get("comment", []):
        if source[clause.end_byte : comment.start_byte].strip(b" \t\r"):
            continue
        written = text(comment)
        body = written[2:-2] if written.startswith("/*") else written[2:]
        match = _IMPORT_COMMENT.fullmatch(body)
        if match is not None:
            return match.group(1) or match.group(2) or ""
    return ""


def _header(source: bytes) -> tuple[list[bytes], bytes | None]:
    """go/build's file header: the lines where `// +build` counts (those up to the last
    blank line before the first non-comment text) and the `//go:build` line, if any."""
    lines: list[bytes] = []
    end = 0
    ended = in_block = False
    go_build: bytes | None = None
    for raw in io.BytesIO(source.removeprefix(b"\xef\xbb\xbf")):
        line = raw.strip()
        lines.append(line)
        if not line and not ended:
            end = len(lines)
            continue
        ended = ended or not line.startswith(b"//")
        if not in_block and go_build is None and _GO_BUILD.match(line):
            go_build = line
        comment_only, in_block = _scan_comments(line, in_block)
        if not comment_only:
            break
    return lines[:end], go_build


def _scan_comments(line: bytes, in_block: bool) -> tuple[bool, bool]:
    """Whether a stripped header line holds only comments, and whether a `/*` is still open."""
    position = 0
    while True:
        if in_block:
            close = line.find(b"*/", position)
            if close < 0:
                return True, True
            in_block, position = False, close + 2
        match = _COMMENT_START.match(line, position)
        if match is None:
            return False, False
        if match.group(1) != b"/*":
            return True, False
        in_block, position = True, match.end()


def build_ignored(source: bytes) -> bool:
    """Whether the file's build constraint excludes it from every build: false with the
    tag `ignore` unset, whatever the other tags are."""
    header, go_build = _header(source)
    if go_build is not None:
        return _evaluate_go_build(go_build) is False
    return any(_evaluate_plus_build(line) is False for line in header if _PLUS_BUILD.match(line))


# Build constraints in three-valued logic: a tag is unknown (None) except `ignore`,
# which is never set (False). A constraint that is False excludes the file everywhere.
Truth = bool | None


def _tag(name: str) -> Truth:
    return False if name == "ignore" else None


def _not(value: Truth) -> Truth:
    return None if value is None else not value


def _and(values: list[Truth]) -> Truth:
    if False in values:
        return False
    return True if all(values) else None


def _or(values: list[Truth]) -> Truth:
    if True in values:
        return True
    return False if all(v is False for v in values) else None


def _evaluate_plus_build(line: bytes) -> Truth:
    """A `// +build` line: space-separated options, each a comma-separated conjunction.
    As in go/build/constraint, an empty line, `!`, `!!x` and invalid tags mean `ignore`."""
    options = []
    for word in line.split(b"+build", 1)[1].decode("utf-8", "replace").split():
        terms = []
        for term in word.split(","):
            negated = term.startswith("!")
            name = term[1:] if negated else term
            if not _VALID_TAG.fullmatch(name):
                negated, name = False, "ignore"
            terms.append(_not(_tag(name)) if negated else _tag(name))
        options.append(_and(terms))
    return _or(options) if options else False


def _evaluate_go_build(line: bytes) -> Truth:
    """A `//go:build` line's expression (`||`, `&&`, `!`, parentheses); None when malformed."""
    expression = line[len(b"//go:build") :].decode("utf-8", "replace")
    tokens = _EXPR_TOKEN.findall(expression)
    if "".join(tokens) != "".join(expression.split()) or len(tokens) > _MAX_EXPR_TOKENS:
        return None
    tokens.reverse()
    try:
        value = _parse_or(tokens)
    except (IndexError, ValueError):
        return None
    return None if tokens else value


def _parse_or(tokens: list[str]) -> Truth:
    values = [_parse_and(tokens)]
    while tokens and tokens[-1] == "||":
        tokens.pop()
        values.append(_parse_and(tokens))
    return _or(values)


def _parse_and(tokens: list[str]) -> Truth:
    values = [_parse_not(tokens)]
    while tokens and tokens[-1] == "&&":
        tokens.pop()
        values.append(_parse_not(tokens))
    return _and(values)


def _parse_not(tokens: list[str]) -> Truth:
    token = tokens.pop()
    if token == "!":
        if tokens and tokens[-1] == "!":
            raise ValueError("double negation")
        return _not(_parse_not(tokens))
    if token == "(":
        value = _parse_or(tokens)
        if tokens.pop() != ")":
            raise ValueError("unbalanced parenthesis")
        return value
    if not _VALID_TAG.fullmatch(token):
        raise ValueError(f"unexpected {token}")
    return _tag(token)
