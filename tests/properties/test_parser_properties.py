"""P5: every source file of a repository becomes exactly one node; edges join real nodes."""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.tokens import split_identifier
from services.parser.graph import build_graph
from services.parser.identifiers import MIN_IDF, weigh_terms
from services.parser.languages import language_of

NAMES = ("a", "b", "pkg", "core", "util", "src", "__init__")
EXTENSIONS = (".py", ".py", ".py", ".pyi", ".js", ".ts", ".go", ".java", ".txt")

component = st.sampled_from(NAMES)
module = st.lists(component, min_size=1, max_size=3).map(".".join)
statement = st.one_of(
    module.map(lambda m: f"import {m}"),
    st.tuples(st.integers(0, 3), st.one_of(st.just(""), module), st.lists(component, min_size=1))
    .filter(lambda t: t[0] or t[1])
    .map(lambda t: f"from {'.' * t[0]}{t[1]} import {', '.join(t[2])}"),
    module.map(lambda m: f"def f():\n    from {m} import *"),
    st.just("def broken(:"),
    st.just("import os.path"),
)
source = st.lists(statement, max_size=6).map("\n".join)
file_path = st.tuples(st.lists(component, max_size=3), component, st.sampled_from(EXTENSIONS)).map(
    lambda t: "/".join([*t[0], t[1] + t[2]])
)
tree = st.dictionaries(file_path, source, min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(files=tree)
def test_every_source_file_becomes_exactly_one_node(files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        graph = build_graph(root)

    paths = [node.path for node in graph.nodes]
    assert sorted(paths) == sorted(p for p in files if language_of(p) is not None)
    assert len(set(paths)) == len(paths)
    assert graph.stats.files_seen == len(files)
    assert graph.stats.files_parsed + graph.stats.files_skipped == len(files)
    count = len(paths)
    for source, target, kind in graph.edges:
        assert 0 <= source < count and 0 <= target < count
        assert source != target and kind > 0
    assert len({(s, t) for s, t, _ in graph.edges}) == len(graph.edges)
    assert all(0 <= source < count for source, _ in graph.unresolved)


# --- identifier tokens ------------------------------------------------------------------

word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
STYLES = {
    "snake": lambda words: "_".join(words),
    "screaming": lambda words: "_".join(w.upper() for w in words),
    "camel": lambda words: words[0] + "".join(w.capitalize() for w in words[1:]),
    "pascal": lambda words: "".join(w.capitalize() for w in words),
    "dunder": lambda words: "__" + "_".join(words) + "__",
}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(word, min_size=1, max_size=5),
    st.sampled_from(sorted(STYLES)),
    st.integers(0, 999),
)
def test_identifier_splitting_recovers_the_words(words: list[str], style: str, number: int) -> None:
    name = STYLES[style](words)
    assert split_identifier(name) == words
    # A number at a boundary splits off and is dropped; an acronym before a word splits.
    assert split_identifier(f"{name}{number}") == words
    assert split_identifier(f"HTTP{STYLES['pascal'](words)}") == ["http", *words]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_identifier_tokens_are_lower_case_words_of_the_name(name: str) -> None:
    lowered = name.lower()
    for token in split_identifier(name):
        assert token == token.lower() and len(token) >= 2 and not token.isdigit()
        assert token in lowered
        assert "_" not in token and "$" not in token


def _weighed_by_the_definition(
    files: list[tuple[tuple[str, int], ...]], keep: int
) -> list[tuple[tuple[str, float], ...]]:
    """tf-idf as `weigh_terms` documents it, computed the plain way: the oracle."""
    documents = sum(1 for terms in files if terms)
    df = Counter(token for terms in files for token, _ in terms)
    weighted = []
    for terms in files:
        scored = [
            (token, (1 + math.log(count)) * idf)
            for token, count in terms
            if (idf := math.log((1 + documents) / (1 + df[token]))) >= MIN_IDF
        ]
        scored = sorted(scored, key=lambda item: (-item[1], item[0]))[:keep]
        norm = math.sqrt(sum(w * w for _, w in scored))
        weighted.append(tuple((token, w / norm) for token, w in scored))
    return weighted


token_counts = st.dictionaries(
    st.sampled_from([*NAMES, "x", "yy", "zzz", "http", "client"]), st.integers(1, 3000), max_size=8
).map(lambda counts: tuple(sorted(counts.items())))


@settings(max_examples=200, deadline=None)
@given(st.lists(token_counts, max_size=12), st.integers(1, 6))
def test_term_weights_are_tf_idf_exactly(
    files: list[tuple[tuple[str, int], ...]], keep: int
) -> None:
    """weigh_terms' table lookups and sort order give the definition's floats, bit for bit:
    the strongest `keep` terms, ties by token, L2-normalised."""
    assert weigh_terms(files, keep=keep) == _weighed_by_the_definition(files, keep)
