from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import DEFAULT_HOSTS
from services.common.repo_url import InvalidRepoUrl, canonicalize, is_local


def canon(raw: str, **kw: object) -> str:
    return canonicalize(raw, allowed_hosts=DEFAULT_HOSTS, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        "github.com/psf/requests",
        "https://github.com/psf/requests",
        "https://github.com/psf/requests.git",
        "https://GitHub.com/psf/requests/",
    ],
)
def test_spellings_of_one_repository_share_a_canonical_form(raw: str) -> None:
    assert canon(raw) == "https://github.com/psf/requests"


def test_subgroups_are_kept() -> None:
    assert canon("gitlab.com/group/sub/project") == "https://gitlab.com/group/sub/project"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("http://github.com/a/b", "scheme"),
        ("ssh://git@github.com/a/b", "https"),
        ("git@github.com:a/b.git", "https"),
        ("ext::sh -c touch% /tmp/pwned", "whitespace"),
        ("file:///etc", "https"),
        ("https://user:pw@github.com/a/b", "credentials"),
        ("https://github.com:8443/a/b", "ports"),
        ("https://github.com/a/b?x=1", "query"),
        ("https://github.com/a/b#frag", "fragment"),
        ("https://github.com/../etc/passwd", "owner/name"),
        ("https://github.com/a/%2e%2e", "percent"),
        ("https://github.com/a/b;rm -rf", "whitespace"),
        ("https://github.com/a/b$(id)", "owner/name"),
        ("https://evil.example/a/b", "allowed hosts"),
        ("https://github.com/only-owner", "owner/name"),
        ("-uhttps://github.com/a/b", "'-'"),
        ("https://github.com/a/b\n", "control"),
        ("https://gíthub.com/a/b", "non-ASCII"),
        ("https://github.com/" + "a" * 600, "characters"),
        ("", "characters"),
    ],
)
def test_hostile_or_malformed_urls_are_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidRepoUrl, match=reason):
        canon(raw)


def test_local_repositories_only_in_local_mode(sample_repo: Path) -> None:
    with pytest.raises(InvalidRepoUrl):
        canon(str(sample_repo))
    url = canon(str(sample_repo), allow_local=True)
    assert url == f"file://{sample_repo.resolve()}"
    assert is_local(url)
    assert canon(url, allow_local=True) == url


def test_a_local_directory_that_is_not_a_git_repository_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidRepoUrl, match="not a git repository"):
        canon(str(tmp_path), allow_local=True)
