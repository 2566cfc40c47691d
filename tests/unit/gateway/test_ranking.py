"""gateway/ranking.py on small hand-made inputs: the signals, the fusion, the words."""

from __future__ import annotations

import math

import pytest

from gateway import ranking
from services.common.vectors import Partner, StoredFile, token_index

REPO = "https://github.com/a/b"


def stored(path: str, structure: tuple[float, ...] = (1.0, 0.0), **fields: object) -> StoredFile:
    values: dict[str, object] = {
        "repo_url": REPO,
        "file_path": path,
        "language": "python",
        "dir": path.rpartition("/")[0],
        "imports": (),
        "structure": structure,
        "identifiers": {},
    }
    values.update(fields)
    return StoredFile(**values)  # type: ignore[arg-type]


def words(*tokens: str) -> dict[int, float]:
    return {token_index(t): 1.0 / math.sqrt(len(tokens)) for t in tokens}


def test_query_words_split_like_identifiers() -> None:
    assert ranking.query_words("parseHTTPResponse read_json_body x 42 utf8Decoder") == [
        "parse",
        "http",
        "response",
        "read",
        "json",
        "body",
        "utf",
        "decoder",
    ]
    assert ranking.query_words("Session session SESSION") == ["session"]
    assert ranking.query_words("1 2 !") == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("HTTPServer2_config", ["http", "server", "config"]),
        ("parseJSON body body", ["parse", "json", "body"]),
        ("XMLHttpRequest", ["xml", "http", "request"]),
        ("café_Straße ünïcode", ["café", "straße", "ünïcode"]),
        ("a_b C9D", []),
    ],
)
def test_query_words_split_as_identifiers_are(text: str, words: list[str]) -> None:
    assert ranking.query_words(text) == words


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("a/b", "a/b", 1.0), ("a/b", "a", 1 / 2), ("a/b", "a/c", 1 / 3), ("", "x/y", 1 / 3)],
)
def test_directory_proximity(a: str, b: str, expected: float) -> None:
    assert ranking.proximity(a, b) == pytest.approx(expected)


def test_cosines() -> None:
    assert ranking.cosine((1.0, 0.0), (2.0, 0.0)) == pytest.approx(1.0)
    assert ranking.cosine((1.0, 0.0), ()) == 0.0
    assert ranking.cosine((0.0, 0.0), (1.0, 0.0)) == 0.0
    assert ranking.sparse_cosine(words("a", "b"), words("b", "c")) == pytest.approx(0.5)
    assert ranking.sparse_cosine({}, words("a")) == 0.0


def test_features_relations_history_and_shared_identifiers() -> None:
    query = stored(
        "pkg/q.py",
        imports=("pkg/both.py", "pkg/dep.py"),
        identifiers=words("alpha", "beta", "gamma"),
        terms=("gamma", "alpha", "beta"),
        cochange=(Partner("lib/user.py", 2.5, 4, 1_700_000_000),),
    )
    found = [
        stored("pkg/dep.py", identifiers=words("alpha", "gamma")),
        stored("pkg/both.py", imports=("pkg/q.py",)),
        stored("lib/user.py", (0.0, 1.0), imports=("pkg/q.py",)),
        stored("pkg/q.py"),  # the query itself
        stored("pkg/dep.py"),  # a repeat
        stored("pkg/dep.py", repo_url="https://github.com/o/other"),
    ]
    measured = {(f.repo_url, f.file_path): f for f in ranking.candidate_features(query, found)}
    assert len(measured) == 4
    dep = measured[(REPO, "pkg/dep.py")]
    assert (dep.import_relation, dep.same_directory, dep.shared_identifiers) == (
        "imports",
        True,
        ("gamma", "alpha"),
    )
    assert dep.text == pytest.approx(2 / math.sqrt(6))
    assert measured[(REPO, "pkg/both.py")].import_relation == "both"
    user = measured[(REPO, "lib/user.py")]
    assert (user.import_relation, user.history, user.commits, user.structure) == (
        "imported_by",
        2.5,
        4,
        0.0,
    )
    assert (user.proximity, user.same_directory) == (pytest.approx(1 / 3), False)
    other = measured[("https://github.com/o/other", "pkg/dep.py")]
    assert (other.import_relation, other.same_directory, other.proximity) == ("none", False, 0.0)


def test_fusion_normalises_each_signal_by_its_largest_value() -> None:
    query = stored(
        "q.py",
        cochange=(Partner("h.py", 4.0, 8, 1), Partner("s.py", 2.0, 1, 1)),
        identifiers=words("alpha"),
        terms=("alpha",),
    )
    found = [stored("h.py", (0.0, 1.0)), stored("s.py", (1.0, 0.0), identifiers=words("alpha"))]
    measured = ranking.candidate_features(query, found)
    weights = ranking.HybridWeights(
        structure=1, text=1, history=1, commits=0, recency=0, imports=0, directory=0, name=0
    )
    h, s = ranking.fuse(measured, weights)
    assert h == pytest.approx(1.0)  # history 4/4
    assert s == pytest.approx(1.0 + 1.0 + 0.5)  # structure 1/1, text 1/1, history 2/4
    ranked = ranking.rank(measured, "hybrid", 5, weights)
    assert [r.features.file_path for r in ranked] == ["s.py", "h.py"]


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("pkg/client.go", "client"),
        ("pkg/client_test.go", "client"),
        ("tests/test_client.py", "client"),
        ("src/client.test.ts", "client"),
        ("src/client.spec.js", "client"),
        ("src/main/java/a/Client.java", "client"),
        ("src/test/java/a/ClientTest.java", "client"),
        ("src/test/java/a/TestClient.java", "client"),
        ("test.py", "test"),
        ("contest.py", "contest"),
    ],
)
def test_name_stem_drops_test_affixes(path: str, stem: str) -> None:
    assert ranking.name_stem(path) == stem


def test_commits_recency_and_name_signals() -> None:
    day = 86400
    query = stored(
        "pkg/client.go",
        cochange=(
            Partner("pkg/old.go", 1.0, 1, 1000 * day),
            Partner("pkg/new.go", 1.0, 3, 1180 * day),
        ),
    )
    found = [stored(p) for p in ("pkg/old.go", "pkg/new.go", "pkg/client_test.go")]
    measured = ranking.candidate_features(query, found)
    assert [f.same_name for f in measured] == [False, False, True]
    only = {
        name: ranking.HybridWeights(**{f: float(f == name) for f in ranking.SIGNALS})
        for name in ("commits", "recency", "name")
    }
    old, new, test = ranking.fuse(measured, only["commits"])
    assert (old, new, test) == (pytest.approx(math.log(2) / math.log(4)), 1.0, 0.0)
    old, new, test = ranking.fuse(measured, only["recency"])
    assert (old, new, test) == (pytest.approx(math.exp(-1)), 1.0, 0.0)  # 180 days older
    assert ranking.fuse(measured, only["name"]) == [0.0, 0.0, 1.0]


def test_ties_are_broken_by_path() -> None:
    query = stored("q.py")
    found = [stored(p) for p in ("c.py", "a.py", "b.py")]
    for mode in ("structure", "hybrid"):
        ranked = ranking.rank(ranking.candidate_features(query, found), mode, 5)
        assert [r.features.file_path for r in ranked] == ["a.py", "b.py", "c.py"]


def test_search_breaks_ties_by_structure_to_the_best_match() -> None:
    hits = [
        (stored("z_best.py", (1.0, 0.0), identifiers=words("alpha")), 0.9),
        (stored("far.py", (0.0, 1.0), identifiers=words("alpha")), 0.5),
        (stored("near.py", (1.0, 0.2), identifiers=words("alpha", "beta")), 0.5),
    ]
    ranked = ranking.search_rank(hits, ["alpha", "beta"], 10)
    assert [r.features.file_path for r in ranked] == ["z_best.py", "near.py", "far.py"]
    assert ranked[1].features.shared_identifiers == ("alpha", "beta")
    assert ranking.search_rank([], ["alpha"], 10) == []
