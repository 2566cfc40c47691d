"""`alexandria show`'s page: the 2-D projection, the data the page draws, and the HTML
(data embedded safely, nothing fetched)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from show_helpers import COMMIT, REPO, embedded_data, gateway_answer

from alexandria.show_page import build_page, page_data, project_2d
from services.common.vectors import FileVector


def files_response(paths: list[str], imports: dict[str, list[str]] | None = None) -> dict:
    rng = np.random.default_rng(0)
    return gateway_answer(
        [
            FileVector(p, "python", rng.normal(size=64).tolist(), (imports or {}).get(p, []))
            for p in paths
        ]
    )


def test_projection_keeps_the_main_spread_within_unit_bounds() -> None:
    rng = np.random.default_rng(1)
    direction = rng.normal(size=64)
    points = np.outer(np.linspace(-5, 5, 40), direction) + rng.normal(scale=0.01, size=(40, 64))
    coords = project_2d(points.tolist())
    assert coords.shape == (40, 2)
    assert np.abs(coords).max() == pytest.approx(1.0)
    # The line the points lie on becomes the first axis, in order (up to its fixed sign).
    order = np.argsort(coords[:, 0])
    assert list(order) in (list(range(40)), list(range(39, -1, -1)))
    assert np.abs(coords[:, 1]).max() < 0.05


def test_projection_is_reproducible_and_leaves_its_input_alone() -> None:
    points = np.random.default_rng(2).normal(size=(12, 64))
    before = points.copy()
    np.testing.assert_array_equal(project_2d(points), project_2d(before.tolist()))
    np.testing.assert_array_equal(points, before)
    np.testing.assert_array_equal(project_2d(-points)[:, 0], project_2d(points)[:, 0] * -1)


@pytest.mark.parametrize("count", [0, 1])
def test_projection_of_fewer_than_two_files_is_the_origin(count: int) -> None:
    assert project_2d([[0.5] * 64] * count).tolist() == [[0.0, 0.0]] * count


def test_page_data_turns_imports_into_edges_between_drawn_files() -> None:
    response = files_response(
        ["a.py", "b.py", "pkg/c.py"],
        {"a.py": ["b.py", "pkg/c.py", "gone.py"], "pkg/c.py": ["pkg/c.py", "b.py"]},
    )
    data = page_data(response, color_by="language")
    assert [n["path"] for n in data["nodes"]] == ["a.py", "b.py", "pkg/c.py"]
    assert data["edges"] == [[0, 1], [0, 2], [2, 1]]  # not drawn or self: dropped
    assert (data["repo_url"], data["commit"], data["color_by"]) == (REPO, COMMIT, "language")
    assert all(len(n["vector"]) == 64 and -1 <= n["x"] <= 1 for n in data["nodes"])


def test_a_path_that_closes_the_script_cannot_end_the_embedded_data() -> None:
    hostile = "x/</script><script>alert(1)</script><!--.py"
    page = build_page(files_response(["a.py", hostile]))
    assert page.count("</script>") == 2  # the data's and the program's, nothing more
    assert [n["path"] for n in embedded_data(page)["nodes"]] == ["a.py", hostile]


def test_the_page_is_self_contained() -> None:
    page = build_page(files_response(["a.py"]), color_by="directory")
    assert "__GRAPH_DATA__" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "default-src 'none'" in page  # the browser is told to fetch nothing
    assert embedded_data(page)["color_by"] == "directory"


def test_an_unknown_colouring_is_refused() -> None:
    with pytest.raises(ValueError, match="color_by"):
        build_page(files_response(["a.py"]), color_by="size")


def test_page_data_carries_terms_and_partners_when_the_answer_has_them() -> None:
    response = files_response(["a.py", "b.py", "pkg/c.py"])
    a, b, c = response["files"]
    a["terms"] = ["session", "redirect"]
    b["terms"] = [{"token": "redirect", "weight": 0.7}]  # tokens, or tokens with weights
    c["terms"] = []
    a["cochange"] = [
        {"file_path": "b.py", "weight": 1.5, "commits": 3, "last_changed": 1_790_000_000},
        {"file_path": "gone.py", "weight": 1.0, "commits": 1, "last_changed": 1_790_000_000},
        {"file_path": "a.py", "weight": 1.0, "commits": 9, "last_changed": 0},
    ]
    b["cochange"] = [
        {"file_path": "pkg/c.py", "commits": 1, "last_changed": "2026-10-02T23:00:00-02:00"}
    ]
    c["cochange"] = [{"file_path": "a.py", "weight": 0.5, "commits": 2, "last_changed": None}]
    data = page_data(response, color_by="directory")
    assert data["signals"] == {"identifiers": True, "history": True}
    assert [n["terms"] for n in data["nodes"]] == [["session", "redirect"], ["redirect"], []]
    # [partner's index, commits together, last date (UTC)]; unknown and self partners dropped
    assert [n["cochange"] for n in data["nodes"]] == [
        [[1, 3, "2026-09-21"]],
        [[2, 1, "2026-10-03"]],
        [[0, 2, ""]],
    ]


def test_page_data_without_terms_or_partners_says_so() -> None:
    data = page_data(files_response(["a.py", "b.py"]), color_by="directory")
    assert data["signals"] == {"identifiers": False, "history": False}
    assert all("terms" not in n and "cochange" not in n for n in data["nodes"])
