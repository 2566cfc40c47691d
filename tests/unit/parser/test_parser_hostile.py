"""Hostile repositories, committed to git and run through the real clone + build (R4.4)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from parser_helpers import git, write_tree

from neo_alexandria.v1 import graph_pb2
from services.common.config import Settings
from services.parser.clone import CloneTooLarge, cloned_repository
from services.parser.graph import build_graph
from services.parser.source import graph_of
from services.parser.walk import MAX_DEPTH, walk_sources
from services.parser.workers import WORKER_DIED


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(alexandria_data_dir=tmp_path / "data")


def _paths(nodes: Iterable[graph_pb2.FileNode]) -> list[str]:
    return [node.path for node in nodes]


def test_symlinks_out_of_the_repository_are_never_followed(
    make_repo: Callable[..., Path], tmp_path: Path, settings: Settings
) -> None:
    secret = write_tree(tmp_path / "secret", {"token.py": "import stolen_secret\n"})
    repo = write_tree(tmp_path / "hostile", {"main.py": "import os\n"})
    (repo / "passwd.py").symlink_to("/etc/passwd")
    (repo / "escape").symlink_to(secret, target_is_directory=True)
    (repo / "up.py").symlink_to("../secret/token.py")
    (repo / "inside.py").symlink_to("main.py")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hostile")

    built = graph_of(str(repo), settings)

    assert _paths(built.graph.nodes) == ["main.py"]
    errors = dict(built.graph.errors)
    for link in ("passwd.py", "escape", "up.py", "inside.py"):
        assert errors[link] == "symlink not followed"
    assert all("stolen_secret" not in spec for _, spec in built.graph.unresolved)


def test_a_50_mb_file_is_skipped_with_its_reason(
    make_repo: Callable[..., Path], settings: Settings
) -> None:
    repo = make_repo({"huge.py": "x = 1\n" * (50 * 1024 * 1024 // 6), "small.py": "import huge\n"})
    built = graph_of(str(repo), settings)
    assert _paths(built.graph.nodes) == ["small.py"]
    assert dict(built.graph.errors)["huge.py"].startswith("larger than 1048576 bytes")
    assert built.graph.unresolved == [(0, "huge")]


def test_a_repository_over_the_size_limit_fails_clearly(
    make_repo: Callable[..., Path], settings: Settings
) -> None:
    repo = make_repo({"a.py": "x" * 200_000, "b.py": "y" * 200_000})
    small = settings.model_copy(update={"max_repo_bytes": 300_000})
    with pytest.raises(CloneTooLarge, match="ALEXANDRIA_MAX_REPO_BYTES"):
        graph_of(str(repo), small)
    few = settings.model_copy(update={"max_repo_files": 1})
    with pytest.raises(CloneTooLarge, match="ALEXANDRIA_MAX_REPO_FILES"):
        graph_of(str(repo), few)


def test_binary_and_badly_encoded_files(make_repo: Callable[..., Path], settings: Settings) -> None:
    repo = make_repo(
        {
            "blob.py": b"\x7fELF\x00\x00\x01import os\n",
            "latin1.py": b"# caf\xe9 cr\xe8me\nimport os\nimport latin_dep\n",
            "utf16.ts": "import x from './y';\n".encode("utf-16"),
            "half.py": b"import ok\n\xff\xfe\xfd def (\n",
        }
    )
    built = graph_of(str(repo), settings)
    assert _paths(built.graph.nodes) == ["half.py", "latin1.py"]
    errors = dict(built.graph.errors)
    assert errors["blob.py"] == errors["utf16.ts"] == "binary file (NUL byte in the first 8 KiB)"
    assert "syntax error" in errors["half.py"]
    assert set(built.graph.unresolved) == {(0, "ok"), (1, "os"), (1, "latin_dep")}


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def _nest(root: Path, depth: int) -> None:
    """`depth` nested directories, built and later removed with relative paths only
    (the full path is far past PATH_MAX, and shutil.rmtree would recurse too deep)."""
    with _cwd(root):
        for level in range(depth):
            os.mkdir("d")
            os.chdir("d")
            if level in (3, depth - 1):
                Path(f"level{level}.py").write_text("import os\n")


def _unnest(root: Path, depth: int) -> None:
    with _cwd(root):
        for _ in range(depth):
            os.chdir("d")
        for entry in os.listdir("."):
            os.unlink(entry)
        for _ in range(depth):
            os.chdir("..")
            for entry in os.listdir("d"):
                if entry != "d":
                    os.unlink(os.path.join("d", entry))
            os.rmdir("d")


def test_ten_thousand_nested_directories(tmp_path: Path) -> None:
    depth = 10_000
    _nest(tmp_path, depth)
    try:
        graph = build_graph(tmp_path)
    finally:
        _unnest(tmp_path, depth)
    assert _paths(graph.nodes) == ["d/d/d/d/level3.py"]
    deep = [(path, why) for path, why in graph.errors if "deeper than" in why]
    assert deep == [("/".join(["d"] * (MAX_DEPTH + 1)), f"deeper than {MAX_DEPTH} directories")]


@pytest.mark.parametrize("extension", ["py", "js", "tsx", "java", "go"])
def test_pathological_syntax_is_noted_and_the_rest_continue(tmp_path: Path, extension: str) -> None:
    """Inputs that once made tree-sitter's queries quadratic (a root with 100,000
    error tokens, a wide flat tree of calls, a 100,000-deep chain) still extract."""
    write_tree(
        tmp_path,
        {
            f"parens.{extension}": "(" * 100_000,
            f"calls.{extension}": "require('x')(" * 20_000,
            f"chain.{extension}": "a" + ".a" * 100_000,
            "ok.py": "import os\n",
        },
    )
    graph = build_graph(tmp_path)
    assert len(graph.nodes) == 4
    noted = {path for path, error in graph.errors if error.startswith("syntax error")}
    assert f"parens.{extension}" in noted


@pytest.mark.parametrize("extension", ["py", "js", "ts", "java", "go"])
def test_unterminated_literals_keep_the_identifier_pass_linear(
    tmp_path: Path, extension: str
) -> None:
    """Literals that never close (a quote, then escaped quotes to the end) once made the
    identifier pass restart its scan at every quote: minutes for these 300 KB, past the
    worker's CPU budget. Each byte is read a bounded number of times now."""
    write_tree(
        tmp_path,
        {
            f"quotes.{extension}": "'\\" * 150_000,
            f"doubles.{extension}": '"\\' * 150_000,
            f"ticks.{extension}": "`\\" * 150_000,
            "ok.py": "import os\n",
        },
    )
    graph = build_graph(tmp_path)
    assert len(graph.nodes) == 4
    assert not [path for path, error in graph.errors if error == WORKER_DIED]


CPU_CAPPED_TERMS = """
import resource, sys
from services.parser.identifiers import count_terms
resource.setrlimit(resource.RLIMIT_CPU, (10, 10))
count_terms("javascript", "a.js", b"(/[" * 100_000)
print("read")
"""


def test_an_unterminated_regular_expression_class_is_read_once() -> None:
    """`(/[` repeated: each `/` opens a regular expression whose class never closes (an
    input tree-sitter's own JavaScript parser takes minutes over, so the worker's CPU
    budget ends it there; the identifier pass alone, capped at 10 s of CPU here, must
    not)."""
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", CPU_CAPPED_TERMS],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.stdout.strip() == "read", done.stderr[-300:]


def test_a_malformed_tree_is_read_and_walked_without_leaving_the_checkout(
    tmp_path: Path, settings: Settings
) -> None:
    """A tree git itself would refuse to check out (made with `git mktree`): `..` and
    `.git` entries, a path twice, a path that is a file and a directory. Nothing is
    written outside the checkout or into a `.git`, the first entry of a path wins, and
    the walk of the listing is the walk of what was written."""
    repo = tmp_path / "malformed"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))

    def blob(text: str) -> str:
        return (
            subprocess.run(
                ["git", "hash-object", "-w", "--stdin"],
                cwd=repo,
                input=text.encode(),
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )

    def mktree(lines: list[str]) -> str:
        return (
            subprocess.run(
                ["git", "mktree"],
                cwd=repo,
                input="".join(f"{line}\n" for line in lines).encode(),
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .strip()
        )

    first, second = blob("import first\n"), blob("import second\n")
    inner = mktree([f"100644 blob {second}\tconfig.py"])
    tree = mktree(
        [
            f"100644 blob {first}\ta.py",
            f"100644 blob {second}\ta.py",
            f"040000 tree {inner}\t.git",
            f"040000 tree {inner}\t.GIT",
            f"040000 tree {inner}\t..",
            f"100644 blob {first}\tx.py",
            f"040000 tree {inner}\tx.py",
            f"040000 tree {inner}\tpkg",
        ]
    )
    commit = git(repo, "commit-tree", tree, "-m", "malformed")
    git(repo, "update-ref", "refs/heads/main", commit)

    with cloned_repository(f"file://{repo}", timeout_seconds=30) as read:
        files = sorted(str(p.relative_to(read.path.parent)) for p in read.path.parent.rglob("*"))
        assert files == [
            "checkout",
            *(f"checkout/{p}" for p in ("a.py", "pkg", "pkg/config.py", "x.py")),
        ]
        assert (read.path / "a.py").read_text() == "import first\n"
        assert walk_sources(read.tree) == walk_sources(read.path)
    built = graph_of(str(repo), settings)
    assert _paths(built.graph.nodes) == ["a.py", "pkg/config.py", "x.py"]
    assert sorted(spec for _, spec in built.graph.unresolved) == ["first", "first", "second"]
