"""Validate and canonicalise repository URLs before anything touches git (R11.3, P3).

One canonical form per repository: `github.com/u/r`, `https://github.com/u/r.git` and
`https://GitHub.com/u/r/` all become `https://github.com/u/r` (every trailing `.git` is
dropped, so canonicalising a canonical URL changes nothing). Local repositories (LOCAL
mode only) become `file:///absolute/path`: with the path resolved and checked to be a
repository when one is ingested (`on_disk`), or only made absolute and normal when a
stored one is looked up, so that a read never touches the filesystem (it would tell
anyone which paths exist).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

MAX_URL_LENGTH = 512
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")


class InvalidRepoUrl(ValueError):
    """The URL is malformed, hostile or not allowed here; the message says why."""


def canonicalize(
    raw: str, *, allowed_hosts: tuple[str, ...], allow_local: bool = False, on_disk: bool = True
) -> str:
    """Return the canonical URL for `raw`, or raise InvalidRepoUrl. `on_disk=False`: a
    local path is canonicalised without reading the filesystem (see the module docstring)."""
    if not raw or len(raw) > MAX_URL_LENGTH:
        raise InvalidRepoUrl(f"repository URL must be 1 to {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or ord(c) > 0x7E for c in raw):
        raise InvalidRepoUrl("repository URL contains whitespace, control or non-ASCII characters")
    if raw.startswith("-"):
        raise InvalidRepoUrl("repository URL must not start with '-'")
    if allow_local and (raw.startswith("/") or raw.startswith("file:///")):
        return _canonical_local(raw) if on_disk else _lexical_local(raw)
    if "::" in raw or raw.startswith(("file:", "ext:", "ssh:", "git:", "git@")):
        raise InvalidRepoUrl("only https repository URLs are accepted")
    if "%" in raw or "\\" in raw:
        raise InvalidRepoUrl("percent-escapes and backslashes are not accepted")
    url = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidRepoUrl(f"malformed URL: {exc}") from None
    if parts.scheme != "https":
        raise InvalidRepoUrl(f"scheme {parts.scheme!r} is not accepted; use https")
    if "@" in parts.netloc:
        raise InvalidRepoUrl("credentials in repository URLs are not accepted")
    if ":" in parts.netloc:
        raise InvalidRepoUrl("ports in repository URLs are not accepted")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidRepoUrl("query strings and fragments are not accepted")
    host = parts.netloc.lower()
    if not _HOST.match(host):
        raise InvalidRepoUrl(f"host {host!r} is not a valid host name")
    if host not in allowed_hosts:
        raise InvalidRepoUrl(f"host {host!r} is not in the allowed hosts {list(allowed_hosts)}")
    segments = parts.path.strip("/").split("/")
    while segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][: -len(".git")]
    if len(segments) < 2 or not all(_SEGMENT.match(s) and ".." not in s for s in segments):
        raise InvalidRepoUrl("repository path must be owner/name with letters, digits, . _ -")
    return f"https://{host}/{'/'.join(segments)}"


def _canonical_local(raw: str) -> str:
    path = Path(raw.removeprefix("file://")).resolve()
    if not ((path / ".git").exists() or is_bare_repository(path)):
        raise InvalidRepoUrl(f"{path} is not a git repository")
    return f"file://{path}"


def is_bare_repository(path: Path) -> bool:
    """Whether `path` looks like a bare git repository (HEAD, objects/ and refs/ at its
    top); git itself checks it when the repository is read."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def _lexical_local(raw: str) -> str:
    path = os.path.normpath(raw.removeprefix("file://"))
    if not path.startswith("/"):
        raise InvalidRepoUrl("a local repository path must be absolute")
    return f"file://{'/' + path.lstrip('/')}"


def is_local(canonical_url: str) -> bool:
    """True for a canonical local repository URL."""
    return canonical_url.startswith("file:///")
