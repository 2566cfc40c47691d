"""Where a LOCAL stack's sockets go: the data dir, or, for a data dir too deep for a
socket path, a private directory under the temporary one, refused when it is not this
user's alone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from services.common.local_sockets import SOCKET_PATH_MAX, prepare_directory, socket_path


def test_a_short_data_dir_holds_its_sockets(tmp_path: Path) -> None:
    assert socket_path(tmp_path, "parser") == tmp_path / "parser.sock"


def test_a_deep_data_dir_gets_a_private_directory_per_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    deep = tmp_path / ("x" * 120)
    other = tmp_path / ("y" * 120)
    path = socket_path(deep, "parser")
    assert len(os.fsencode(deep / "parser.sock")) >= SOCKET_PATH_MAX
    assert path.parent.parent == tmp_path / "tmp" / f"alexandria-{os.geteuid()}"
    assert path.parent != socket_path(other, "parser").parent
    assert socket_path(deep, "embedder").parent == path.parent
    prepare_directory(path, deep)
    for directory in (path.parent, path.parent.parent):
        assert directory.stat().st_mode & 0o777 == 0o700


def test_a_directory_open_to_others_or_owned_by_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    deep = tmp_path / ("x" * 120)
    path = socket_path(deep, "parser")
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o755)
    with pytest.raises(PermissionError, match="must be this user's alone"):
        prepare_directory(path, deep)
    if os.geteuid() == 0:
        path.parent.chmod(0o700)
        os.chown(path.parent.parent, 65534, 65534)  # nobody
        with pytest.raises(PermissionError, match=str(path.parent.parent)):
            prepare_directory(path, deep)
