"""Hybrid `similar`'s stored candidates (services/ingest/candidates.py) on tiny inputs
with known answers, and the pipeline's points carrying them."""

from __future__ import annotations

import numpy as np
import pytest

from neo_alexandria.v1 import graph_pb2
from services.common import vectors
from services.ingest import candidates
from services.ingest.pipeline import file_vectors
from services.parser.client import ParsedGraph

REPO = "https://github.com/tiny/repo"


def test_structure_neighbours_are_the_cosine_order_ties_by_index() -> None:
    embeddings = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    top = candidates.structure_neighbours(embeddings, 2)
    assert top.tolist() == [[4, 1], [0, 4], [1, 0], [2, 1], [0, 1]]
    everyone = candidates.structure_neighbours(embeddings, 10)
    assert everyone.shape == (5, 4) and everyone[3].tolist() == [2, 1, 0, 4]


@pytest.mark.parametrize("block_scores", [1, 7, 10_000])
def test_blocks_and_wide_rows_change_nothing(block_scores: int) -> None:
    rng = np.random.default_rng(3)
    embeddings = rng.normal(size=(300, 8))  # 300 columns, k = 4: the grouped partition
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosines = unit @ unit.T
    np.fill_diagonal(cosines, -np.inf)
    expected = np.argsort(-cosines, axis=1, kind="stable")[:, :4]
    top = candidates.structure_neighbours(embeddings, 4, block_scores=block_scores)
    assert top.tolist() == expected.tolist()


def test_ties_at_the_cut_keep_the_lowest_indices() -> None:
    embeddings = np.ones((400, 3))  # every cosine is 1
    top = candidates.structure_neighbours(embeddings, 3)
    assert top[0].tolist() == [1, 2, 3] and top[399].tolist() == [0, 1, 2]


def test_one_file_and_no_files() -> None:
    assert candidates.structure_neighbours(np.ones((1, 4))).shape == (1, 0)
    assert [a.tolist() for a in candidates.identifier_neighbours([{}])] == [[]]
    assert candidates.identifier_neighbours([]) == []
    assert (
        candidates.file_candidates(
            repo_url=REPO, paths=[], embeddings=np.zeros((0, 4)), terms=[], imports=[], partners=[]
        )
        == []
    )


def test_identifier_neighbours_are_the_positive_dot_products_best_first() -> None:
    weights = [
        {1: 0.8, 2: 0.6},
        {1: 0.6, 3: 0.8},
        {2: 1.0},
        {4: 1.0},
        {1: 0.8, 2: 0.6},
    ]
    found = [a.tolist() for a in candidates.identifier_neighbours(weights, 3)]
    # 0: 4 (1.0), 1 (0.48), 2 (0.6) -> 4, 2, 1
    assert found == [[4, 2, 1], [0, 4], [0, 4], [], [0, 2, 1]]
    assert [a.tolist() for a in candidates.identifier_neighbours(weights, 1)] == [
        [4],
        [0],
        [0],
        [],
        [0],
    ]


def test_tokens_held_by_too_many_files_are_skipped() -> None:
    weights = [{1: 0.6, 9: 0.8}, {1: 1.0}, {1: 0.6, 9: 0.8}, {1: 1.0}]
    capped = candidates.identifier_neighbours(weights, 5, postings_cap=3)
    assert [a.tolist() for a in capped] == [[2], [], [0], []]  # token 1 is in 4 files
    full = candidates.identifier_neighbours(weights, 5, postings_cap=4)
    assert [a.tolist() for a in full][1] == [3, 0, 2]


def test_identifier_blocks_change_nothing() -> None:
    rng = np.random.default_rng(5)
    weights = [
        {int(t): float(rng.random()) for t in rng.choice(40, size=5, replace=False)}
        for _ in range(60)
    ]
    one = [
        a.tolist()
        for a in candidates.identifier_neighbours(weights, 7, block_scores=1, block_additions=1)
    ]
    many = [a.tolist() for a in candidates.identifier_neighbours(weights, 7)]
    assert one == many
    for i, row in enumerate(many):
        dots = [sum(v * weights[j].get(t, 0.0) for t, v in weights[i].items()) for j in range(60)]
        dots[i] = 0.0
        expected = sorted((j for j in range(60) if dots[j] > 0), key=lambda j: (-dots[j], j))
        assert row == expected[:7]


def _paths(found: vectors.Candidates | None) -> list[str]:
    return list(found.paths) if found else []


def test_file_candidates_are_the_union_without_self_measured() -> None:
    paths = ["a/x.py", "a/y.py", "a/z.py", "b/w.py", "c/v.py", "d/u.py"]
    embeddings = np.array(
        [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.95, 0.05], [-1.0, 0.0], [0.0, -2.0]]
    )
    terms = [[("frob", 1.0)], [], [], [], [("frob", 0.5), ("zz", 0.5)], []]
    imports = [["a/y.py"], [], ["a/x.py"], ["a/x.py"], [], []]
    partners = [["b/w.py"], [], [], [], [], []]
    found = candidates.file_candidates(
        repo_url=REPO,
        paths=paths,
        embeddings=embeddings,
        terms=terms,
        imports=imports,
        partners=partners,
        structure_top=1,
    )
    x = found[0]
    structure = dict(zip(x.paths, x.structure, strict=True))
    text = dict(zip(x.paths, x.text, strict=True))
    # structure (b/w.py), identifiers (c/v.py), importers, directory, import, partner
    assert set(x.paths) == {"a/y.py", "a/z.py", "b/w.py", "c/v.py"}
    assert len(x.paths) == len(set(x.paths)) and "a/x.py" not in x.paths
    assert text["c/v.py"] == pytest.approx(0.5 / np.sqrt(0.5), abs=1e-6)
    assert structure["c/v.py"] == pytest.approx(-1.0)
    assert structure["b/w.py"] == pytest.approx(0.95 / np.hypot(0.95, 0.05), abs=1e-6)
    assert text["a/y.py"] == 0.0  # no identifiers
    assert sorted(x.imported_by) == ["a/z.py", "b/w.py"]
    assert {"a/x.py", "a/z.py"} <= set(_paths(found[1]))


def test_measured_cosines_match_brute_force_in_any_block() -> None:
    rng = np.random.default_rng(7)
    weights = [
        {int(t): float(rng.random()) for t in rng.choice(30, size=rng.integers(0, 6))}
        for _ in range(40)
    ]
    embeddings = rng.normal(size=(40, 6))
    left = rng.integers(0, 40, size=300)
    right = rng.integers(0, 40, size=300)

    def text(i: int, j: int) -> float:
        dot = sum(v * weights[j].get(t, 0.0) for t, v in weights[i].items())
        norms = np.sqrt(sum(v * v for v in weights[i].values())) * np.sqrt(
            sum(v * v for v in weights[j].values())
        )
        return dot / norms if norms else 0.0

    expected = [text(i, j) for i, j in zip(left, right, strict=True)]
    for block in (1, 31, 10_000):
        got = candidates.identifier_cosines(weights, left, right, block_scores=block)
        assert got == pytest.approx(expected, abs=1e-12)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosines = candidates.structure_cosines(embeddings, left, right)
    assert cosines == pytest.approx((unit[left] * unit[right]).sum(axis=1), abs=1e-12)


def test_importers_and_directories_keep_the_first_by_point_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(candidates, "IMPORTERS_MAX", 2)
    monkeypatch.setattr(candidates, "DIRECTORY_MAX", 2)
    paths = ["lib/core.py"] + [f"app/m{i}.py" for i in range(6)]
    n = len(paths)
    found = candidates.file_candidates(
        repo_url=REPO,
        paths=paths,
        embeddings=np.zeros((n, 2)),  # every cosine 0: structure picks by index
        terms=[[] for _ in paths],
        imports=[[]] + [["lib/core.py"] for _ in range(6)],
        partners=[[] for _ in paths],
    )
    by_id = sorted(paths[1:], key=lambda p: vectors.point_id(REPO, p))
    assert set(by_id[:2]) <= set(_paths(found[0]))
    others = sorted(
        (p for p in paths[1:] if p != "app/m3.py"), key=lambda p: vectors.point_id(REPO, p)
    )
    assert set(others[:2]) <= set(_paths(found[4]))


def test_the_pipeline_points_carry_the_candidates() -> None:
    nodes = [
        graph_pb2.FileNode(
            path=path,
            language=graph_pb2.LANGUAGE_PYTHON,
            terms=[graph_pb2.IdentifierTerm(token="frob", weight=1.0)],
        )
        for path in ("a.py", "b.py", "c.py")
    ]
    graph = ParsedGraph(
        repo_url=REPO,
        commit="0" * 40,
        nodes=nodes,
        edges=[(0, 1, 1)],
        cochanges=[(0, 2, 1.0, 2, 1_700_000_000)],
    )
    files = file_vectors(graph, np.eye(3, 4), repo_url=REPO)
    assert [_paths(f.candidates) for f in files] == [
        ["b.py", "c.py"],
        ["a.py", "c.py"],
        ["a.py", "b.py"],
    ]
    body = vectors.point_body(files[1], repo_url=REPO, commit="0" * 40, job_id="j")
    payload = body["payload"]
    assert payload["candidate_paths"] == "a.py\0c.py"
    assert payload["imported_by"] == ["a.py"]
    read_back = vectors.stored_file({"id": body["id"], "payload": payload})
    assert read_back.candidates == vectors.Candidates(
        # structure: rows of the identity, orthogonal; text: the same one term
        ("a.py", "c.py"),
        (0.0, 0.0),
        (1.0, 1.0),
        ("a.py",),
    )
    legacy = vectors.FileVector("a.py", "python", [1.0])
    assert (
        "candidate_paths"
        not in vectors.point_body(legacy, repo_url=REPO, commit="", job_id="j")["payload"]
    )
