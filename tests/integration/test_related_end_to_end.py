"""Related files end to end through the running LOCAL stack: a repository with history is
ingested, then `similar` (every mode) and `search` answer with reasons. The known answers
come from how the repository was built: two files always committed together, two files
sharing rare identifiers, and an import."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from git_repos import git, make_git_repo

from alexandria.stack import LocalStack, free_port
from services.common.config import Settings

pytestmark = pytest.mark.slow

FILES = {
    "app/__init__.py": "",
    "app/orders.py": "from app.db import connect\n\ndef place_order(cart):\n    return connect()\n",
    "app/invoices.py": "def render_invoice(order_total):\n    return order_total\n",
    "app/db.py": "def connect():\n    return None\n",
    "app/geometry.py": (
        "def trapezoid_area(base_top, base_bottom, height):\n"
        "    hypotenuse = 0\n    return (base_top + base_bottom) * height / 2\n"
    ),
    "lib/shapes.py": "def trapezoid_hypotenuse(trapezoid_height, hypotenuse_base):\n    pass\n",
    "lib/strings.py": "def shout(text):\n    return text.upper()\n",
    "lib/numbers.py": "def double(value):\n    return value * 2\n",
    "tools/report.py": "import app.orders\n\ndef weekly_report():\n    pass\n",
}


def history_repo(root: Path) -> Path:
    """FILES in a first commit, then five commits that each change orders and invoices
    together, and one that changes strings and numbers."""
    repo = make_git_repo(root, FILES)
    for n in range(5):
        for rel in ("app/orders.py", "app/invoices.py"):
            with (repo / rel).open("a") as handle:
                handle.write(f"# change {n}\n")
        git(repo, "commit", "-qam", f"orders and invoices {n}")
    for rel in ("lib/strings.py", "lib/numbers.py"):
        with (repo / rel).open("a") as handle:
            handle.write("# tidy\n")
    git(repo, "commit", "-qam", "tidy")
    return repo


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/ingestion/jobs/{job_id}").json()["job"]
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish; last state: {job}")


def similar(client: httpx.Client, repo_url: str, path: str, **params: object) -> dict:
    reply = client.get(
        "/api/v1/graph/similar",
        params={"repo_url": repo_url, "file_path": path, "limit": 20, **params},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_similar_and_search_answer_with_reasons(tmp_path: Path) -> None:
    repo = history_repo(tmp_path / "repo")
    settings = Settings(alexandria_data_dir=tmp_path / "data", train_epochs=5)
    stack = LocalStack(
        settings, gateway_port=free_port(), parser_port=free_port(), embedder_port=free_port()
    )
    with stack, httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        auth = {"Authorization": f"Bearer {settings.ingest_token()}"}
        queued = client.post(
            f"/api/v1/ingestion/ingest/{quote(str(repo), safe='')}", headers=auth
        ).json()
        job = wait_for_job(client, queued["job_id"])
        assert (job["status"], job["history"]) == ("complete", "7 commits")
        url = queued["repo_url"]

        hybrid = similar(client, url, "app/orders.py")
        assert hybrid["mode"] == "hybrid" and hybrid["history"] == "7 commits"
        assert hybrid["results"][0]["file_path"] == "app/invoices.py"
        top = hybrid["results"][0]["reasons"]
        # The first commit added every file together: one commit more for each pair.
        assert top["commits_together"] == 6 and top["history"] > 0
        assert top["last_changed_together"] and top["same_directory"] is True
        by_path = {r["file_path"]: r["reasons"] for r in hybrid["results"]}
        assert by_path["app/db.py"]["import_relation"] == "imports"
        assert by_path["tools/report.py"]["import_relation"] == "imported_by"
        assert "app/orders.py" not in by_path

        history = similar(client, url, "app/orders.py", mode="history")
        together = [r["reasons"]["commits_together"] for r in history["results"]]
        assert history["results"][0]["file_path"] == "app/invoices.py"
        assert together[0] == 6 and set(together[1:]) == {1}

        text = similar(client, url, "app/geometry.py", mode="text")
        assert text["results"][0]["file_path"] == "lib/shapes.py"
        shared = text["results"][0]["reasons"]["shared_identifiers"]
        assert {"trapezoid", "hypotenuse"} <= set(shared)

        structure = similar(client, url, "app/orders.py", mode="structure")
        scores = [r["score"] for r in structure["results"]]
        assert scores == sorted(scores, reverse=True)
        assert [r["reasons"]["structure"] for r in structure["results"]] == scores

        found = client.get(
            "/api/v1/graph/search", params={"repo_url": url, "q": "trapezoidHypotenuse"}
        ).json()
        assert {r["file_path"] for r in found["results"][:2]} == {
            "app/geometry.py",
            "lib/shapes.py",
        }
        assert set(found["results"][0]["reasons"]["shared_identifiers"]) <= {
            "trapezoid",
            "hypotenuse",
        }

        bad = client.get(
            "/api/v1/graph/similar",
            params={"repo_url": url, "file_path": "app/orders.py", "mode": "vibes"},
        )
        assert bad.status_code in (400, 422) and "mode" in bad.text
