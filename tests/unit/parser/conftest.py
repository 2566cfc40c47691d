"""Fixtures: real git repositories built on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from parser_helpers import Files, git, write_tree


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Build a committed git repository from `files`; returns its path."""
    counter = iter(range(1000))

    def make(files: Files, name: str | None = None) -> Path:
        repo = write_tree(tmp_path / (name or f"repo{next(counter)}"), files)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "init")
        return repo

    return make
