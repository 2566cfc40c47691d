"""Request validation shared by routes: repository URLs become canonical or a 400."""

from __future__ import annotations

from gateway.errors import ApiError
from services.common.config import Settings
from services.common.repo_url import InvalidRepoUrl, canonicalize


def canonical_repo_url(raw: str, settings: Settings, *, read: bool = False) -> str:
    """The canonical form of a user's repository URL, or a 400 before anything else runs.
    `read`: a lookup of what is stored, so a local path is not checked on disk."""
    try:
        return canonicalize(
            raw,
            allowed_hosts=settings.allowed_git_hosts,
            allow_local=settings.local,
            on_disk=not read,
        )
    except InvalidRepoUrl as exc:
        raise ApiError(400, "invalid_repo_url", str(exc)) from None
