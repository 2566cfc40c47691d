"""The parse cache: only changed files are parsed again, and the cache can never hurt."""

from __future__ import annotations

import os
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from parser_helpers import git

from services.common.config import Settings
from services.parser import cache as cache_module
from services.parser.cache import PARSE_CACHE_FILE, ParseCache
from services.parser.graph_json import graph_document
from services.parser.records import Extraction
from services.parser.source import graph_of

FILES = {f"pkg/m{i}.py": f"import pkg.m{(i + 1) % 20}\nimport os\n" for i in range(20)}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(alexandria_data_dir=tmp_path / "data")


def _without_timing(document: dict[str, object]) -> dict[str, object]:
    stats = dict(document["stats"])  # type: ignore[call-overload]
    del stats["parse_seconds"], stats["files_cached"]
    return {**document, "commit": None, "stats": stats}


def test_reingest_parses_only_changed_files(
    make_repo: Callable[..., Path], settings: Settings
) -> None:
    repo = make_repo({**FILES, "pkg/__init__.py": ""})
    first = graph_of(str(repo), settings)
    assert first.graph.stats.files_cached == 0

    again = graph_of(str(repo), settings)
    assert again.graph.stats.files_cached == 21
    assert _without_timing(graph_document("r", "c", again.graph)) == _without_timing(
        graph_document("r", "c", first.graph)
    )

    (repo / "pkg/m3.py").write_text("import pkg.m7\n")
    (repo / "pkg/new.py").write_text("from pkg import m1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change two files")
    changed = graph_of(str(repo), settings)
    assert changed.graph.stats.files_cached == 20  # all but the edited and the new file
    fresh = graph_of(str(repo), settings, use_cache=False)
    assert fresh.graph.stats.files_cached == 0
    assert _without_timing(graph_document("r", "c", changed.graph)) == _without_timing(
        graph_document("r", "c", fresh.graph)
    )


def test_a_changed_extractor_misses_the_cache(
    make_repo: Callable[..., Path], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(FILES)
    graph_of(str(repo), settings)
    monkeypatch.setattr(cache_module, "_grammar_versions", lambda: "tree-sitter==99")
    cache_module.fingerprint.cache_clear()
    try:
        assert graph_of(str(repo), settings).graph.stats.files_cached == 0
    finally:
        cache_module.fingerprint.cache_clear()


def test_a_corrupt_cache_file_is_ignored(
    make_repo: Callable[..., Path], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo(FILES)
    expected = graph_document("r", "c", graph_of(str(repo), settings).graph)
    path = settings.data_dir / PARSE_CACHE_FILE
    for sidecar in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        sidecar.unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    built = graph_of(str(repo), settings)
    assert _without_timing(graph_document("r", "c", built.graph)) == _without_timing(expected)
    assert "parse cache" in caplog.text


def test_a_tampered_entry_cannot_run_code(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    cache = ParseCache(tmp_path / "cache.sqlite3")
    cache.put_many({"good": Extraction(facts=("a",))})
    with sqlite3.connect(cache.path) as db:
        db.execute("INSERT INTO extraction VALUES (?, ?)", ("evil", pickle.dumps(Exploit())))
    assert cache.get_many(["good", "evil", "absent"]) == {"good": Extraction(facts=("a",))}
    assert not (tmp_path / "pwned").exists()


def test_the_oldest_entries_go_past_the_cap(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "cache.sqlite3", max_entries=3)
    for key in "abcde":
        cache.put_many({key: Extraction()})
    assert sorted(cache.get_many("abcde")) == ["c", "d", "e"]


def test_same_content_under_another_extension_is_parsed_again(
    make_repo: Callable[..., Path], settings: Settings
) -> None:
    """A stub's imports are type-only and a .ts file parses with another grammar than
    a .js one: identical bytes must not share a cache entry across extensions."""
    text = "import a\nfrom b import c\n"
    repo = make_repo({"m.py": text, "m.pyi": text, "a.py": "", "b.py": "def c(): ...\n"})
    first = graph_of(str(repo), settings).graph
    again = graph_of(str(repo), settings).graph
    assert again.stats.files_cached == 4
    assert sorted(again.edges) == sorted(first.edges)
    kinds = {(first.nodes[s].path, k) for s, _, k in first.edges}
    assert kinds == {("m.py", 1), ("m.pyi", 5)}
