"""Real git repositories for tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_git_repo(root: Path, files: dict[str, str]) -> Path:
    """A real git repository with `files` committed."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    return root


SAMPLE_PYTHON_REPO = {
    "app/__init__.py": "",
    "app/main.py": "from app import models, views\nfrom app.services import billing\n",
    "app/models.py": "import os\nfrom app.db import session\n",
    "app/views.py": "from . import models\nfrom .services import billing\n",
    "app/db.py": "import sqlite3\n",
    "app/services/__init__.py": "",
    "app/services/billing.py": "from ..models import Invoice\nfrom app.db import session\n",
    "app/services/mail.py": "from app.services import billing\n",
    "tests/test_billing.py": "from app.services import billing\nimport pytest\n",
}


CORRUPTIONS = ("garbage-blob", "missing-blob", "truncated-objects", "head-missing", "corrupt-pack")
"""Ways `corrupt` damages a repository's object store, as disks, copies and bugs do."""


def corrupt(repo: Path, how: str) -> Path:
    """Damage the committed repository `repo` in place (`CORRUPTIONS`); returns it."""
    objects = repo / ".git" / "objects"
    if how == "corrupt-pack":
        git(repo, "gc", "-q")
        for pack in (objects / "pack").glob("*.pack"):
            pack.chmod(0o644)
            with pack.open("r+b") as raw:
                raw.seek(40)
                raw.write(b"X" * 64)
        return repo
    if how == "head-missing":
        (repo / ".git" / "refs" / "heads" / "main").write_text("12" * 20 + "\n")
        return repo
    blob = git(repo, "rev-parse", f"HEAD:{git(repo, 'ls-files').splitlines()[0]}")
    loose = objects / blob[:2] / blob[2:]
    if how == "missing-blob":
        loose.unlink()
        return repo
    targets = [loose] if how == "garbage-blob" else sorted(objects.glob("??/*"))
    for path in targets:
        path.chmod(0o644)
        data = path.read_bytes()
        path.write_bytes(b"not zlib at all\n" if how == "garbage-blob" else data[:10])
    return repo
