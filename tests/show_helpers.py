"""A small repository's files as the coordinator stores them and as the gateway's
`GET /api/v1/graph/files` answers them, for the `alexandria show` tests."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from services.common.vectors import FileVector

REPO = "https://github.com/a/b"
COMMIT = "0e322af87745eff34caffe4df68456ebc20d9068"
IMPORTS = {
    "app/__init__.py": [],
    "app/main.py": ["app/models.py", "app/views.py", "app/services/billing.py"],
    "app/models.py": ["app/db.py"],
    "app/views.py": ["app/models.py", "app/services/billing.py"],
    "app/db.py": [],
    "app/services/__init__.py": [],
    "app/services/billing.py": ["app/models.py", "app/db.py"],
    "app/services/mail.py": ["app/services/billing.py"],
    "tests/test_billing.py": ["app/services/billing.py"],
    "web/index.ts": ["web/api.ts"],
    "web/api.ts": [],
}


def sample_files(seed: int = 0) -> list[FileVector]:
    """The files of IMPORTS; vectors clustered by directory, as Node2Vec tends to place them."""
    rng = np.random.default_rng(seed)
    centres: dict[str, np.ndarray] = {}
    files = []
    for path, imports in IMPORTS.items():
        directory = path.rpartition("/")[0]
        centre = centres.setdefault(directory, rng.normal(size=64))
        vector = centre + 0.4 * rng.normal(size=64)
        language = "typescript" if path.endswith(".ts") else "python"
        files.append(
            FileVector(path, language, (vector / np.linalg.norm(vector)).tolist(), imports)
        )
    return files


def gateway_answer(files: list[FileVector], repo_url: str = REPO) -> dict[str, Any]:
    """What the gateway answers for these files (sorted by path)."""
    return {
        "repo_url": repo_url,
        "commit": COMMIT,
        "truncated": False,
        "files": [
            {
                "file_path": f.file_path,
                "language": f.language,
                "vector": list(f.vector),
                "imports": list(f.imports),
            }
            for f in sorted(files, key=lambda f: f.file_path)
        ],
    }


def embedded_data(page: str) -> Any:
    """The graph data a written page carries."""
    found = re.search(r'<script id="graph-data" type="application/json">(.*?)</script>', page, re.S)
    assert found, "no graph data in the page"
    return json.loads(found.group(1))
