"""What users type for a repository and a file: `similar . ./src/x.py`, an absolute
path inside the repository, a path from a subdirectory and `src\\x.py` all name
`src/x.py`; a bare repository is a repository; changes HEAD lacks are counted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from git_repos import git, make_git_repo

from alexandria.gateway_commands import file_argument
from alexandria.head_changes import changes_not_indexed, say_changes_not_indexed
from services.common.config import DEFAULT_HOSTS, Settings
from services.common.repo_url import canonicalize
from services.parser.source import graph_of


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "repo", {"src/x.py": "import os\n", "src/y.py": ""})


def test_every_form_of_a_file_names_its_repository_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    for typed in ("./src/x.py", "src/x.py", "src\\x.py", str(repo / "src/x.py"), "src/../src/x.py"):
        assert file_argument(".", typed) == "src/x.py", typed
    assert file_argument(str(repo), str(repo / "src" / "x.py")) == "src/x.py"
    monkeypatch.chdir(repo / "src")
    assert file_argument("..", "x.py") == "src/x.py"  # from the current directory
    assert file_argument("..", "./y.py") == "src/y.py"
    assert file_argument("https://github.com/a/b", "./src//x.py") == "src/x.py"
    assert file_argument("https://github.com/a/b", "src\\x.py") == "src/x.py"


def test_changes_head_lacks_are_counted_and_said_in_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert changes_not_indexed(str(repo)) == 0
    say_changes_not_indexed(str(repo))
    assert capsys.readouterr().err == ""
    (repo / "src/x.py").write_text("import sys\n")
    (repo / "src/new.py").write_text("")
    assert changes_not_indexed(str(repo)) == 2
    assert changes_not_indexed("https://github.com/a/b") == 0
    say_changes_not_indexed(str(repo))
    assert capsys.readouterr().err == (
        "note: 2 changed or untracked files are not indexed, only the HEAD commit is "
        "(commit them to include them)\n"
    )


def test_a_bare_repository_is_read_at_head(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    url = canonicalize(str(bare), allowed_hosts=DEFAULT_HOSTS, allow_local=True)
    assert url == f"file://{bare.resolve()}"
    settings = Settings(alexandria_data_dir=tmp_path / "data")
    built = graph_of(str(bare), settings, use_cache=False, workers=1)
    assert built.commit == git(repo, "rev-parse", "HEAD")
    assert sorted(n.path for n in built.graph.nodes) == ["src/x.py", "src/y.py"]
