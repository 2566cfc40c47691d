"""The `alexandria show` page in headless Chromium (Debian's, driven by Playwright; no
browser is downloaded): it loads with no console errors and fetches nothing, draws every
file, names a file on hover, lists the nearest files with their reasons on click and
recolours on the toggle."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pytest
from environment import IN_CI
from show_helpers import IMPORTS, gateway_answer, sample_files

from alexandria.show_page import build_page, page_data

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NEAREST = 10


def unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason}: CI must run the browser test (see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (it is in the dev extra)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Loaded:
    """The page opened from its file, with what it logged and requested."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page: Page = browser.new_page(viewport={"width": 1200, "height": 800})
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("#graph[data-nodes-drawn]")

    def position(self, path: str) -> tuple[float, float]:
        at = self.page.evaluate("(p) => window.graphView.clientPosition(p)", path)
        return at["x"], at["y"]


@pytest.fixture(scope="module")
def answer() -> dict[str, Any]:
    return gateway_answer(sample_files())


LAST_CHANGED = 1_790_000_000  # 2026-09-21 UTC


def with_terms_and_partners(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as a gateway that sends each file's identifier terms and co-change
    partners gives it: terms from the path's words; each import also changed together,
    stored on the importing side only."""
    files = []
    for f in answer["files"]:
        words = f["file_path"].replace(".", "/").replace("_", "/").split("/")
        partners = [
            {"file_path": t, "weight": 1.0, "commits": len(t) % 4 + 1, "last_changed": LAST_CHANGED}
            for t in IMPORTS[f["file_path"]]
        ]
        terms = [w for w in words if w and w not in ("py", "ts")]
        files.append({**f, "terms": terms, "cochange": partners})
    return {**answer, "files": files}


def expected_reasons(answer: dict[str, Any], path: str, other: str) -> str:
    """What the panel should say about `other` listed for `path` (the CLI's --why words)."""
    by_path = {f["file_path"]: f for f in answer["files"]}
    mine, theirs = by_path[path], by_path[other]
    name = path.rpartition("/")[2]
    parts = []
    imports, imported = other in mine["imports"], path in theirs["imports"]
    if imports and imported:
        parts.append(f"imports and is imported by {name}")
    elif imports or imported:
        parts.append(f"imported by {name}" if imports else f"imports {name}")
    pairs = [
        p
        for a, b in ((mine, other), (theirs, path))
        for p in a.get("cochange", [])
        if p["file_path"] == b
    ]
    if pairs:
        commits = pairs[0]["commits"]
        parts.append(f"{commits} commit{'' if commits == 1 else 's'} together (last 2026-09-21)")
    shared = [t for t in mine.get("terms", []) if t in theirs.get("terms", [])][:3]
    if shared:
        parts.append("shares: " + ", ".join(shared))
    if path.rpartition("/")[0] == other.rpartition("/")[0]:
        parts.append("same dir")
    return " · ".join(parts)


@pytest.fixture
def loaded(browser: Browser, answer: dict[str, Any], tmp_path: Path) -> Iterator[Loaded]:
    path = tmp_path / "graph.html"
    path.write_text(build_page(answer, color_by="directory"), encoding="utf-8")
    opened = Loaded(browser, path)
    yield opened
    opened.page.close()


@pytest.fixture
def rich_answer(answer: dict[str, Any]) -> dict[str, Any]:
    return with_terms_and_partners(answer)


@pytest.fixture
def loaded_rich(browser: Browser, rich_answer: dict[str, Any], tmp_path: Path) -> Iterator[Loaded]:
    path = tmp_path / "rich.html"
    path.write_text(build_page(rich_answer, color_by="directory"), encoding="utf-8")
    opened = Loaded(browser, path)
    yield opened
    opened.page.close()


def loneliest(answer: dict[str, Any]) -> str:
    """The file drawn farthest from any other, so the mouse finds it and no other."""
    nodes = page_data(answer, color_by="directory")["nodes"]
    xy = np.array([[n["x"], n["y"]] for n in nodes])
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=2) + np.eye(len(xy)) * 10
    return str(nodes[int(gaps.min(axis=1).argmax())]["path"])


def nearest_by_cosine(answer: dict[str, Any], path: str) -> list[str]:
    files = answer["files"]
    unit = np.array([f["vector"] for f in files])
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    i = [f["file_path"] for f in files].index(path)
    order = [j for j in np.argsort(-(unit @ unit[i]), kind="stable") if j != i]
    return [files[j]["file_path"] for j in order[:NEAREST]]


PAINTED_AT_NODES = """() => {
  const canvas = document.getElementById("graph");
  const box = canvas.getBoundingClientRect();
  const ratio = canvas.width / box.width;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const nodes = JSON.parse(document.getElementById("graph-data").textContent).nodes;
  return nodes.map((node) => {
    const at = window.graphView.clientPosition(node.path);
    const x = Math.round((at.x - box.left) * ratio);
    const y = Math.round((at.y - box.top) * ratio);
    return pixels[(y * canvas.width + x) * 4 + 3];
  });
}"""
LISTED_PATHS = "(items) => items.map((item) => item.dataset.path)"


def test_the_page_loads_clean_and_draws_every_file(loaded: Loaded, answer: dict[str, Any]) -> None:
    files = answer["files"]
    imports = sum(len(f["imports"]) for f in files)
    graph = loaded.page.locator("#graph")
    assert graph.get_attribute("data-nodes-drawn") == str(len(files))
    assert graph.get_attribute("data-edges-drawn") == str(imports)
    alphas = loaded.page.evaluate(PAINTED_AT_NODES)
    assert len(alphas) == len(files) and min(alphas) == 255, "a node is not painted"
    assert loaded.page.title().startswith(answer["repo_url"])
    assert f"{len(files)} files, {imports} imports" in loaded.page.inner_text("#summary")
    assert loaded.errors == []
    assert all(url.startswith("file://") for url in loaded.requests), loaded.requests


def test_hover_names_the_file_and_click_lists_its_nearest(
    loaded: Loaded, answer: dict[str, Any]
) -> None:
    path = loneliest(answer)
    x, y = loaded.position(path)
    loaded.page.mouse.move(x, y)
    tooltip = loaded.page.locator("#tooltip")
    assert tooltip.is_visible() and tooltip.inner_text() == path
    loaded.page.mouse.click(x, y)
    listed = loaded.page.locator("#nearest li").evaluate_all(
        "(items) => items.map((i) => i.dataset.path)"
    )
    assert listed == nearest_by_cosine(answer, path)
    score_texts = loaded.page.locator("#nearest .score").all_inner_texts()
    scores = [float(s) for s in score_texts]
    assert scores == sorted(scores, reverse=True)
    assert all(len(s.partition(".")[2]) == 3 for s in score_texts)  # the CLI's score format
    reasons = loaded.page.locator("#nearest .why").all_inner_texts()
    assert reasons == [expected_reasons(answer, path, other) for other in listed]
    assert "no identifiers or history in this data" in loaded.page.inner_text("#signals")
    assert loaded.page.locator("#graph").get_attribute("data-selected") == path
    loaded.page.mouse.move(1, 1)
    assert not tooltip.is_visible()
    assert loaded.errors == []


def test_a_click_names_shared_identifiers_and_commits_together_when_the_data_has_them(
    loaded_rich: Loaded, rich_answer: dict[str, Any]
) -> None:
    page = loaded_rich.page
    for path in ("app/services/billing.py", "web/index.ts", "tests/test_billing.py"):
        page.evaluate("(p) => window.graphView.select(p)", path)
        assert page.locator("#graph").get_attribute("data-selected") == path
        listed = page.locator("#nearest li").evaluate_all(LISTED_PATHS)
        assert listed == nearest_by_cosine(rich_answer, path)
        reasons = page.locator("#nearest .why").all_inner_texts()
        assert reasons == [expected_reasons(rich_answer, path, other) for other in listed]
    # billing.py imports models.py and db.py, and mail.py, views.py, main.py and the test
    # import it: the panel must have said so, with the commits recorded on either side.
    page.evaluate("(p) => window.graphView.select(p)", "app/services/billing.py")
    text = page.inner_text("#nearest")
    assert "imported by billing.py · 2 commits together (last 2026-09-21)" in text
    assert "imports billing.py" in text and "shares: app, services" in text
    assert "identifiers" in page.inner_text("#signals")
    assert "no " not in page.inner_text("#signals")
    assert loaded_rich.errors == []


def test_the_toggle_colours_by_language(loaded: Loaded) -> None:
    legend = loaded.page.locator("#legend li")
    assert "app/services (3)" in legend.all_inner_texts()
    loaded.page.check("input[value=language]")
    assert legend.all_inner_texts() == ["python (9)", "typescript (2)"]
    assert loaded.errors == []
