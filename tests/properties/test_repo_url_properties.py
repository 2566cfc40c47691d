"""P3: malformed or malicious URLs are rejected; accepted ones are canonical and safe."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.config import DEFAULT_HOSTS
from services.common.repo_url import InvalidRepoUrl, canonicalize

SAFE = re.compile(r"^https://[a-z0-9.-]+(/[A-Za-z0-9_][A-Za-z0-9._-]*){2,}$")
HOSTILE_FRAGMENTS = [
    ";",
    "|",
    "&",
    "$(",
    "`",
    " ",
    "\n",
    "\t",
    "\x00",
    "..",
    "%2e",
    "%2F",
    "@",
    ":8080",
    "?q=1",
    "#x",
    "\\",
    "'",
    '"',
    "<",
    ">",
    "ext::",
    "file::",
    "\u202e",
    "é",
]


def accepted(raw: str) -> str | None:
    try:
        return canonicalize(raw, allowed_hosts=DEFAULT_HOSTS)
    except InvalidRepoUrl:
        return None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_accepted_url_is_canonical_https_on_an_allowed_host(raw: str) -> None:
    url = accepted(raw)
    if url is not None:
        assert SAFE.match(url), url
        assert url.split("/")[2] in DEFAULT_HOSTS
        assert accepted(url) == url  # canonical form is a fixed point


segment = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,15}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    owner=segment,
    name=segment,
    fragment=st.sampled_from(HOSTILE_FRAGMENTS),
    where=st.sampled_from(["owner", "name", "suffix", "host"]),
)
def test_a_hostile_fragment_anywhere_is_rejected(
    owner: str, name: str, fragment: str, where: str
) -> None:
    parts = {"owner": owner, "name": name, "suffix": "", "host": "github.com"}
    parts[where] += fragment
    raw = f"https://{parts['host']}/{parts['owner']}/{parts['name']}{parts['suffix']}"
    assert accepted(raw) is None


@settings(max_examples=100, deadline=None)
@given(size=st.integers(min_value=513, max_value=10_240))
def test_oversized_urls_are_rejected(size: int) -> None:
    assert accepted("https://github.com/a/" + "b" * size) is None


@settings(max_examples=300, deadline=None)
@given(
    host=st.sampled_from(DEFAULT_HOSTS),
    upper_host=st.booleans(),
    path=st.lists(segment, min_size=2, max_size=4),
    git_suffixes=st.integers(0, 3),
    scheme=st.booleans(),
    slash=st.booleans(),
)
def test_canonicalising_is_idempotent_whatever_the_git_suffixes(
    host: str, upper_host: bool, path: list[str], git_suffixes: int, scheme: bool, slash: bool
) -> None:
    """The gateway canonicalises what users send and the parser canonicalises the
    gateway's result again: both must agree (`b.git.git` was `b.git` in one, `b` in the
    other)."""
    raw = (
        ("https://" if scheme else "")
        + (host.upper() if upper_host else host)
        + "/"
        + "/".join(path)
        + ".git" * git_suffixes
        + ("/" if slash else "")
    )
    once = accepted(raw)
    assert once is not None, raw
    assert accepted(once) == once
    assert not once.endswith(".git")
    assert once == accepted(f"https://{host}/{'/'.join(path)}")
