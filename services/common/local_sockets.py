"""Where a LOCAL stack's unix sockets live: in its data dir (mode 0700), so that only
its user can connect to the embedded Redis, the parser and the embedder.

A socket's path must fit in `sockaddr_un.sun_path` (108 bytes on Linux, 104 on macOS).
For a data dir too deep for that, the sockets go to `<tmp>/alexandria-<uid>/<hash of
the data dir>/`, two directories this user makes 0700 and that are refused when
another user owns them or may enter them (the temporary directory is shared).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

SOCKET_PATH_MAX = 104
"""The longest socket path used, in bytes."""


def socket_path(data_dir: Path, name: str) -> Path:
    """`<data dir>/<name>.sock`, or its private temporary stand-in when that is too long."""
    path = data_dir / f"{name}.sock"
    if len(os.fsencode(path)) < SOCKET_PATH_MAX:
        return path
    digest = hashlib.blake2b(os.fsencode(data_dir), digest_size=8).hexdigest()
    return Path(tempfile.gettempdir()) / f"alexandria-{os.geteuid()}" / digest / f"{name}.sock"


def prepare_directory(path: Path, data_dir: Path) -> None:
    """Make sure the directory of socket `path` exists and is this user's alone
    (PermissionError naming it otherwise). The data dir itself is the stack's to make."""
    if path.parent == data_dir:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return
    for directory in (path.parent.parent, path.parent):
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.lstat()
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise PermissionError(
                f"{directory} must be this user's alone (a directory, mode 0700) to hold "
                f"the sockets of the stack in {data_dir}"
            )
