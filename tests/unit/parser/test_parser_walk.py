"""Walking a checkout: what is skipped, and why."""

from __future__ import annotations

import os
from pathlib import Path

from parser_helpers import write_tree

from services.parser.graph import build_graph
from services.parser.walk import walk_sources


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"secret.py": "import leaked\n"})
    repo = write_tree(tmp_path / "repo", {"main.py": "import os\n"})
    (repo / "linked_dir").symlink_to(outside, target_is_directory=True)
    (repo / "linked.py").symlink_to(outside / "secret.py")
    walked = walk_sources(repo)
    assert [f.path for f in walked.files] == ["main.py"]
    assert dict(walked.skipped) == {
        "linked.py": "symlink not followed",
        "linked_dir": "symlink not followed",
    }


def test_vendored_build_and_hidden_directories_are_skipped(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "app.js": "",
            "package.json": "{}",
            "node_modules/lib/index.js": "",
            "vendor/x.go": "",
            "build/gen.py": "",
            "dist/bundle.js": "",
            "pkg/__pycache__/m.py": "",
            ".hidden/tool.py": "",
            ".eslintrc.js": "",
        },
    )
    assert [f.path for f in walk_sources(tmp_path).files] == [".eslintrc.js", "app.js"]


def test_build_named_packages_without_a_build_file_are_walked(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "go.mod": "module example.com/m\n",
            "build/build.go": "package build\n",
            "tools/pom.xml": "<project/>",
            "tools/target/Gen.java": "",
            "tools/src/Main.java": "",
            "pip/operations/build/wheel.py": "",
        },
    )
    assert [f.path for f in walk_sources(tmp_path).files] == [
        "build/build.go",
        "pip/operations/build/wheel.py",
        "tools/src/Main.java",
    ]


def test_binary_and_oversized_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {"ok.py": "x = 1\n", "blob.py": b"abc\x00def", "big.py": "x = 1\n" * 100, "a.txt": ""},
    )
    walked = walk_sources(tmp_path, max_file_bytes=100)
    assert [f.path for f in walked.files] == ["blob.py", "ok.py"]
    assert dict(walked.skipped) == {"big.py": "larger than 100 bytes (600)"}
    assert walked.seen == 4
    graph = build_graph(tmp_path, max_file_bytes=100)
    assert [n.path for n in graph.nodes] == ["ok.py"]
    assert dict(graph.errors)["blob.py"] == "binary file (NUL byte in the first 8 KiB)"


def test_undecodable_files_still_become_nodes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "latin.py": "s = 'caf\u00e9'\nimport other\n".encode("latin-1"),
            "broken.py": b"\xc3\x28 = 1\nimport other\n",
            "other.py": "",
        },
    )
    graph = build_graph(tmp_path)
    assert [n.path for n in graph.nodes] == ["broken.py", "latin.py", "other.py"]
    assert len(graph.edges) == 2


def test_non_utf8_file_names_are_skipped(tmp_path: Path) -> None:
    write_tree(tmp_path, {"ok.py": ""})
    os.close(os.open(os.fsencode(tmp_path) + b"/bad\xff.py", os.O_CREAT | os.O_WRONLY))
    walked = walk_sources(tmp_path)
    assert [f.path for f in walked.files] == ["ok.py"]
    assert walked.skipped == [("bad\ufffd.py", "path is not valid UTF-8")]


def test_order_is_sorted_and_stable(tmp_path: Path) -> None:
    write_tree(tmp_path, {p: "" for p in ["z.py", "a/b.py", "a.py", "m/n/o.go", "b.ts"]})
    paths = [f.path for f in walk_sources(tmp_path).files]
    assert paths == sorted(paths)
    assert paths == [f.path for f in walk_sources(tmp_path).files]
