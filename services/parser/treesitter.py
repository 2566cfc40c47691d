"""tree-sitter plumbing shared by the extractors: per-thread parsers, queries guarded
against tree-sitter's pathological cases, node text, and the syntax-error note.

A crafted file can still make tree-sitter's parser itself take gigabytes or
minutes (15,000 repetitions of `List<` take the Java parser 3 s and 2.9 GB); that
is bounded where it can be, in the worker processes (`workers.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

MAX_START_DEPTH = 10_000
"""No query pattern starts deeper: the query cursor degrades badly on absurdly deep
trees (40,000 nested `List<` took 2.7 s, 50,000 took 19 s), and real code is shallow."""
FLAT_ROOT_CHILDREN = 4096
"""Error recovery can leave every token of a broken file as a direct child of the
root; one query over such a root is quadratic (40,000 unmatched `(`: 1.1 s, and a
1 MiB file would take minutes), while querying its children one by one is linear."""

_local = threading.local()


def _parser_for(language: Language) -> Parser:
    """This thread's parser for `language` (parsers are not thread-safe; worker
    processes are single-threaded, so each keeps one per grammar)."""
    parsers: dict[Language, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        parser = parsers[language] = Parser(language)
    return parser


def parse(language: Language, source: bytes) -> Tree:
    """`source` parsed with this thread's parser for `language`."""
    return _parser_for(language).parse(source)


def keyword_nodes(root: Node, source: bytes, word: bytes) -> Iterator[Node]:
    """The node spanning exactly each occurrence of `word` in `source`, in source order.

    A plain search (no regex word boundaries, which make `re` ten times slower); an
    occurrence inside a longer name has no node of its own, so it is skipped here.
    """
    start = source.find(word)
    while start >= 0:
        end = start + len(word)
        node = root.descendant_for_byte_range(start, end)
        if node is not None and node.start_byte == start and node.end_byte == end:
            yield node
        start = source.find(word, end)


def flat_error_tree(root: Node) -> bool:
    """Error recovery left every token of this tree as a child of its root. In such a
    tree `Node.parent` costs a scan of the root's children: avoid it."""
    return root.has_error and root.child_count > FLAT_ROOT_CHILDREN


def _query_roots(root: Node) -> list[Node]:
    return root.children if flat_error_tree(root) else [root]


def run_query(query: Query, root: Node) -> dict[str, list[Node]]:
    """`QueryCursor.captures` over the tree at `root`, guarded (see the constants).

    Captures of one name are not in source order; sort by `start_byte` where it matters.
    """
    found: dict[str, list[Node]] = {}
    for part in _query_roots(root):
        for name, nodes in _cursor(query).captures(part).items():
            found.setdefault(name, []).extend(nodes)
    return found


def run_matches(query: Query, root: Node) -> list[dict[str, list[Node]]]:
    """`QueryCursor.matches` over the tree at `root`, guarded: each match's captures."""
    return [captured for part in _query_roots(root) for _, captured in _cursor(query).matches(part)]


def _cursor(query: Query) -> QueryCursor:
    cursor = QueryCursor(query)
    cursor.set_max_start_depth(MAX_START_DEPTH)
    return cursor


def text(node: Node) -> str:
    """The node's source, decoded leniently (files may be in any encoding)."""
    return (node.text or b"").decode("utf-8", errors="replace")


def _first_error(root: Node) -> Node | None:
    """The first ERROR node in source order, looking only into subtrees that hold one."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error:
            return node
        stack.extend(child for child in reversed(node.children) if child.has_error)
    return None


def syntax_note(root: Node) -> str | None:
    """None for a clean tree, else where its first syntax error is."""
    if not root.has_error:
        return None
    error = _first_error(root)
    if error is None:
        return "syntax error (missing token); imports found were kept"
    return f"syntax error near line {error.start_point.row + 1}; imports found were kept"
