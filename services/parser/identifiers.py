"""A file's identifier tokens, from the tree-sitter tree its extractor already parsed.

Every identifier-like leaf of the tree (names, types, fields, properties, packages:
each grammar's own node kinds, listed in `IDENTIFIER_KINDS`) is split at snake_case,
camelCase and digit boundaries (`HTTPServer2_config` → http, server, config),
lower-cased, and counted; tokens shorter than two characters or all digits are
dropped. Comments, strings and keywords are not identifier nodes, so they add
nothing. Generated files (by name, or by a marker in their first kilobyte) get no
tokens: their names would drown the hand-written ones. `weigh_terms` weights them
per repository (tf-idf), for `graph.py`.

The cost is one query-cursor pass over the tree (in C) plus a dictionary update per
identifier; splitting is cached per distinct name.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from tree_sitter import Language, Node, Query, QueryCursor

from services.common.tokens import split_identifier
from services.parser.treesitter import MAX_START_DEPTH, flat_error_tree

Terms = tuple[tuple[str, int], ...]
"""(token, count) pairs, sorted by token."""

IDENTIFIER_KINDS: dict[str, tuple[str, ...]] = {
    "python": ("identifier",),
    "javascript": (
        "identifier",
        "property_identifier",
        "shorthand_property_identifier",
        "shorthand_property_identifier_pattern",
        "private_property_identifier",
        "statement_identifier",
    ),
    "typescript": (
        "identifier",
        "property_identifier",
        "shorthand_property_identifier",
        "shorthand_property_identifier_pattern",
        "private_property_identifier",
        "statement_identifier",
        "type_identifier",
    ),
    "java": ("identifier", "type_identifier"),
    "go": ("identifier", "type_identifier", "field_identifier", "package_identifier"),
}
"""Leaf node kinds that name something, per grammar (composite kinds such as Java's
`scoped_identifier` are left out: their parts are leaves already)."""

GENERATED_SUFFIXES = (
    "_pb2.py",
    "_pb2.pyi",
    "_pb2_grpc.py",
    ".pb.go",
    ".pb.gw.go",
    "_pb.js",
    "_pb.d.ts",
    "_grpc_pb.js",
    ".min.js",
    ".min.mjs",
    ".min.cjs",
)
"""File names that say a tool wrote the file."""
GENERATED_HEADER_BYTES = 1024
_GENERATED_MARKER = re.compile(
    rb"@generated\b|Code generated\b|DO NOT EDIT|(?i:\bauto-?generated\b)"
)
_SPLIT_CACHE_LIMIT = 1 << 16
_split_cache: dict[bytes, tuple[str, ...]] = {}
_queries: dict[tuple[Language, str], Query] = {}


def is_generated(path: str, source: bytes) -> bool:
    """Whether the file says a tool wrote it (its name, or a marker in its header)."""
    if path.lower().endswith(GENERATED_SUFFIXES):
        return True
    return _GENERATED_MARKER.search(source, 0, GENERATED_HEADER_BYTES) is not None


def _tokens(name: bytes) -> tuple[str, ...]:
    tokens = _split_cache.get(name)
    if tokens is None:
        if len(_split_cache) >= _SPLIT_CACHE_LIMIT:
            _split_cache.clear()
        tokens = _split_cache[name] = tuple(
            split_identifier(name.decode("utf-8", errors="replace"))
        )
    return tokens


def _query(language: Language, grammar: str) -> Query:
    query = _queries.get((language, grammar))
    if query is None:
        kinds = " ".join(f"({kind})" for kind in IDENTIFIER_KINDS[grammar])
        query = _queries[(language, grammar)] = Query(language, f"[{kinds}] @name")
    return query


def _names(language: Language, grammar: str, root: Node) -> Iterable[Node]:
    cursor = QueryCursor(_query(language, grammar))
    cursor.set_max_start_depth(MAX_START_DEPTH)
    parts = root.children if flat_error_tree(root) else [root]
    for part in parts:
        yield from cursor.captures(part).get("name", [])


def count_terms(language: Language, grammar: str, root: Node, path: str, source: bytes) -> Terms:
    """The tokens of every identifier node under `root` (the tree of `source`, parsed
    with `language`; `grammar` keys `IDENTIFIER_KINDS`) with their counts; none for a
    generated file."""
    if is_generated(path, source):
        return ()
    names = Counter(
        source[node.start_byte : node.end_byte] for node in _names(language, grammar, root)
    )
    counts: Counter[str] = Counter()
    for name, count in names.items():
        for token in _tokens(name):
            counts[token] += count
    return tuple(sorted(counts.items()))


IDENTIFIER_TERMS = 48
"""Each file keeps this many of its strongest tokens."""
MIN_IDF = 0.05
"""Tokens with a lower idf are dropped: with idf = ln((1 + N) / (1 + df)) that is a
token in more than about 95% of the files, which tells no file from another."""

WeightedTerms = tuple[tuple[str, float], ...]


def weigh_terms(files: Sequence[Terms], *, keep: int = IDENTIFIER_TERMS) -> list[WeightedTerms]:
    """Each file's tf-idf weighted tokens over the repository `files` (token counts per
    file): tf = 1 + ln(count), idf = ln((1 + N) / (1 + df)) with N the files that have
    tokens; the `keep` strongest (ties by token), L2-normalised, strongest first."""
    documents = sum(1 for terms in files if terms)
    frequency: Counter[str] = Counter(token for terms in files for token, _ in terms)
    idf = {
        token: weight
        for token, df in frequency.items()
        if (weight := math.log((1 + documents) / (1 + df))) >= MIN_IDF
    }
    weighted: list[WeightedTerms] = []
    for terms in files:
        # (-weight, token) pairs sort strongest first, ties by token, with no key function
        scored = [
            (-((_TF[count] if count < _TF_COUNTS else 1 + math.log(count)) * w), token)
            for token, count in terms
            if (w := idf.get(token))
        ]
        scored.sort()
        del scored[keep:]
        norm = math.sqrt(sum(weight * weight for weight, _ in scored))
        weighted.append(tuple((token, -weight / norm) for weight, token in scored))
    return weighted


_TF_COUNTS = 1024
_TF = tuple(1 + math.log(count) if count else 0.0 for count in range(_TF_COUNTS))
"""tf = 1 + ln(count) for the usual counts, looked up (counts start at 1)."""
