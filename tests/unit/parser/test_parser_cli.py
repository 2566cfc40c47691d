"""`alexandria graph SOURCE [--json]` as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from parser_helpers import git, write_tree


def _graph(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alexandria.cli", "graph", *args],
        env={**os.environ, "ALEXANDRIA_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_document_of_a_local_repository(
    make_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = make_repo(
        {
            "app/__init__.py": "",
            "app/main.py": "from app import util\nimport requests\n",
            "app/util.py": "",
            "README.md": "not source",
        }
    )
    done = _graph(tmp_path / "data", str(repo), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {
        "repo",
        "commit",
        "nodes",
        "edges",
        "cochanges",
        "unresolved",
        "errors",
        "stats",
    }
    assert document["repo"] == f"file://{repo.resolve()}"
    assert document["commit"] == git(repo, "rev-parse", "HEAD")
    main = document["nodes"][1]
    assert main == {
        "path": "app/main.py",
        "language": "python",
        "size_bytes": 37,
        "terms": main["terms"],
    }
    assert main["terms"] == []  # the only file with identifiers: no token tells it apart
    assert document["cochanges"] == []  # one commit: no history
    assert document["stats"]["history_note"] == "no history: the repository has one commit"
    assert document["edges"] == [
        {"source": "app/main.py", "target": "app/util.py", "kind": "import"}
    ]
    assert document["unresolved"] == [{"source": "app/main.py", "specifier": "requests"}]
    assert document["stats"]["files_seen"] == 4 and document["stats"]["files_parsed"] == 3


def test_a_plain_directory_is_parsed_in_place(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "tree", {"a.py": "import b\n", "b.py": ""})
    done = _graph(tmp_path / "data", str(tree), "--json")
    document = json.loads(done.stdout)
    assert (document["repo"], document["commit"]) == (str(tree.resolve()), "")
    assert document["edges"] == [{"source": "a.py", "target": "b.py", "kind": "import"}]
    assert document["stats"]["history_note"] == "no history: not a git repository"


def test_summary_without_json(make_repo: Callable[..., Path], tmp_path: Path) -> None:
    repo = make_repo({"a.py": "import b\n", "b.py": ""})
    first = _graph(tmp_path / "data", str(repo))
    second = _graph(tmp_path / "data", str(repo))
    assert "2 python" in first.stdout and "1 edges" in first.stdout
    assert "2 from the parse cache" in second.stdout


def test_hostile_and_missing_sources_fail_clearly(tmp_path: Path) -> None:
    for source in ("ext::sh -c id", "https://user:pw@github.com/u/r", "https://evil.example/u/r"):
        done = _graph(tmp_path / "data", source)
        assert done.returncode == 2
        assert done.stderr.startswith("alexandria graph: ")
        assert "Traceback" not in done.stderr
    missing = _graph(tmp_path / "data", f"file://{tmp_path}/nope")
    assert missing.returncode == 2 and "not a git repository" in missing.stderr
