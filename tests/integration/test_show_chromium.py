"""The `alexandria show` page in headless Chromium (Debian's, driven by Playwright; no
browser is downloaded): it loads with no console errors and fetches nothing, draws every
file, names a file on hover, lists the nearest files on click and recolours on the toggle."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pytest
from environment import IN_CI
from show_helpers import gateway_answer, sample_files

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


@pytest.fixture
def loaded(browser: Browser, answer: dict[str, Any], tmp_path: Path) -> Iterator[Loaded]:
    path = tmp_path / "graph.html"
    path.write_text(build_page(answer, color_by="directory"), encoding="utf-8")
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
    scores = [float(s) for s in loaded.page.locator("#nearest .score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    assert loaded.page.locator("#graph").get_attribute("data-selected") == path
    loaded.page.mouse.move(1, 1)
    assert not tooltip.is_visible()
    assert loaded.errors == []


def test_the_toggle_colours_by_language(loaded: Loaded) -> None:
    legend = loaded.page.locator("#legend li")
    assert "app/services (3)" in legend.all_inner_texts()
    loaded.page.check("input[value=language]")
    assert legend.all_inner_texts() == ["python (9)", "typescript (2)"]
    assert loaded.errors == []
