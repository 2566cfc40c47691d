"""Properties of gateway/ranking.py over random queries and candidate sets, ≥100 examples
each: a result is never the queried file and never repeats a file, results are sorted by
score (ties by path), each mode's score is its signal, and the reasons agree with the
mode and with the files; the candidates the job measured rank as their vectors do."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import ranking
from services.common.vectors import Candidates, Partner, StoredFile, token_index

EXAMPLES = settings(max_examples=150, deadline=None)
REPO = "https://github.com/p/q"
DIRS = ["", "a", "a/b", "a/c", "d"]
NAMES = ["x.py", "y.py", "z.py"]
PATHS = [f"{d}/{n}" if d else n for d in DIRS for n in NAMES]
WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"]


def _dir(path: str) -> str:
    return path.rpartition("/")[0]


vector = st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=4)
sparse = st.dictionaries(
    st.sampled_from([token_index(w) for w in WORDS]), st.floats(0.01, 1), max_size=5
)


@st.composite
def stored(draw: st.DrawFn, path: str | None = None, full: bool = False) -> StoredFile:
    path = path or draw(st.sampled_from(PATHS))
    terms = draw(st.lists(st.sampled_from(WORDS), unique=True, max_size=7)) if full else []
    partners = (
        draw(
            st.lists(
                st.builds(
                    Partner,
                    st.sampled_from(PATHS),
                    st.floats(0.01, 10),
                    st.integers(1, 50),
                    st.integers(1, 2_000_000_000),
                ),
                unique_by=lambda p: p.file_path,
                max_size=8,
            )
        )
        if full
        else []
    )
    return StoredFile(
        repo_url=draw(st.sampled_from([REPO, REPO, "https://github.com/o/r"]))
        if not full
        else REPO,
        file_path=path,
        language="python",
        dir=_dir(path),
        imports=tuple(draw(st.lists(st.sampled_from(PATHS), unique=True, max_size=4))),
        structure=tuple(draw(vector)),
        identifiers={token_index(t): 0.5 for t in terms} if full else draw(sparse),
        terms=tuple(terms),
        cochange=tuple(partners),
    )


query_file = st.sampled_from(PATHS).flatmap(lambda p: stored(p, full=True))
candidates = st.lists(stored(), max_size=40)
modes = st.sampled_from(ranking.MODES)


@EXAMPLES
@given(query_file, candidates, modes, st.integers(1, 100))
def test_never_the_query_never_a_repeat_sorted_and_ties_by_path(
    query: StoredFile, found: list[StoredFile], mode: ranking.Mode, limit: int
) -> None:
    results = ranking.rank(ranking.candidate_features(query, found), mode, limit)
    keys = [(r.features.repo_url, r.features.file_path) for r in results]
    assert (query.repo_url, query.file_path) not in keys
    assert len(keys) == len(set(keys)) <= limit
    order = [(-r.score, r.features.file_path, r.features.repo_url) for r in results]
    assert order == sorted(order)


@EXAMPLES
@given(query_file, candidates, modes)
def test_the_score_is_the_modes_signal_and_reasons_agree(
    query: StoredFile, found: list[StoredFile], mode: ranking.Mode
) -> None:
    measured = ranking.candidate_features(query, found)
    results = ranking.rank(measured, mode, 100)
    partners = {p.file_path: p for p in query.cochange}
    for r in results:
        f = r.features
        if mode == "history":
            assert f.commits > 0 and r.score == f.history > 0
        elif mode == "text":
            assert r.score == f.text > 0
        elif mode == "structure":
            assert r.score == f.structure
        else:
            assert 0.0 <= r.score <= sum(vars(ranking.HYBRID_WEIGHTS).values()) + 1e-9
        same_repo = f.repo_url == query.repo_url
        partner = partners.get(f.file_path) if same_repo else None
        assert f.commits == (partner.commits if partner else 0)
        assert f.same_directory == (same_repo and _dir(f.file_path) == query.dir)
        assert set(f.shared_identifiers) <= set(query.terms) and len(f.shared_identifiers) <= 5
        order = [query.terms.index(t) for t in f.shared_identifiers]
        assert order == sorted(order)
        assert (f.text > 0) == bool(f.shared_identifiers)
        imports = same_repo and f.file_path in query.imports
        assert (f.import_relation in {"imports", "both"}) == imports
    if mode == "history":
        wanted = {c.file_path for c in found if c.repo_url == REPO and c.file_path in partners} - {
            query.file_path
        }
        assert {r.features.file_path for r in results} == wanted
    if mode == "structure":
        assert len(results) == len(measured)


@EXAMPLES
@given(query_file, candidates, st.integers(1, 20))
def test_structure_mode_is_the_cosine_order_of_the_distinct_candidates(
    query: StoredFile, found: list[StoredFile], limit: int
) -> None:
    results = ranking.rank(ranking.candidate_features(query, found), "structure", limit)
    first: dict[tuple[str, str], StoredFile] = {}
    for c in found:
        first.setdefault((c.repo_url, c.file_path), c)
    first.pop((query.repo_url, query.file_path), None)
    expected = sorted(
        first.values(),
        key=lambda c: (-ranking.cosine(query.structure, c.structure), c.file_path, c.repo_url),
    )[:limit]
    assert [(r.features.repo_url, r.features.file_path) for r in results] == [
        (c.repo_url, c.file_path) for c in expected
    ]


@EXAMPLES
@given(query_file, candidates)
def test_fusion_with_all_weight_on_one_signal_follows_that_signal(
    query: StoredFile, found: list[StoredFile]
) -> None:
    measured = ranking.candidate_features(query, found)
    only_history = ranking.HybridWeights(**{f: float(f == "history") for f in ranking.SIGNALS})
    fused = ranking.fuse(measured, only_history)
    top = max((f.history for f in measured), default=0.0)
    for f, score in zip(measured, fused, strict=True):
        assert score == (f.history / top if top > 0 else 0.0)
    hybrid = ranking.rank(measured, "hybrid", 100, only_history)
    history = ranking.rank(measured, "history", 100)
    assert [r.features.file_path for r in hybrid][: len(history)] == [
        r.features.file_path for r in history
    ]


@EXAMPLES
@given(query_file, candidates, st.integers(1, 50))
def test_the_jobs_measured_candidates_rank_as_their_vectors_do(
    query: StoredFile, found: list[StoredFile], limit: int
) -> None:
    """Hybrid over `StoredFile.candidates` (measured by the job), completed by the
    returned files' details, equals hybrid over the same files read with vectors."""
    same_repo = [c for c in found if c.repo_url == query.repo_url]
    measured = ranking.candidate_features(query, same_repo)
    jobs = Candidates(
        paths=[f.file_path for f in measured],
        structure=[f.structure for f in measured],
        text=[f.text for f in measured],
        imported_by=[f.file_path for f in measured if f.import_relation in {"imported_by", "both"}],
    )
    details: dict[str, StoredFile] = {}
    for c in same_repo:
        details.setdefault(c.file_path, c)
    fast = ranking.rank(
        ranking.stored_features(dataclasses.replace(query, candidates=jobs)), "hybrid", limit
    )
    assert ranking.with_details(fast, query, details) == ranking.rank(measured, "hybrid", limit)


@EXAMPLES
@given(
    st.lists(st.tuples(stored(), st.floats(0, 2)), max_size=30),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4, unique=True),
    st.integers(1, 100),
)
def test_search_never_repeats_and_is_sorted_with_matched_words(
    hits: list[tuple[StoredFile, float]], words: list[str], limit: int
) -> None:
    results = ranking.search_rank(hits, words, limit)
    keys = [(r.features.repo_url, r.features.file_path) for r in results]
    assert len(keys) == len(set(keys)) <= limit
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    for r in results:
        assert set(r.features.shared_identifiers) <= set(words)


@EXAMPLES
@given(st.text(max_size=200))
def test_query_words_are_identifier_tokens(text: str) -> None:
    words = ranking.query_words(text)
    assert len(words) == len(set(words))
    for word in words:
        assert word == word.lower() and len(word) >= 2 and not word.isdigit()
        assert word in text.lower()
        assert "_" not in word and not any(c.isspace() for c in word)
