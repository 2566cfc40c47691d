"""`alexandria show` against a real gateway (uvicorn, embedded Redis, Qdrant local mode
seeded with a repository's vectors): the page it writes, and its exit codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from git_repos import make_git_repo
from queue_helpers import flush
from serving import serve_asgi
from show_helpers import COMMIT, IMPORTS, REPO, embedded_data, sample_files

from alexandria import output
from alexandria.cli import main
from gateway.app import create_app
from services.common import vectors
from services.common.config import Settings


async def seed(settings: Settings, repo_urls: list[str]) -> None:
    store = vectors.open_vector_store(settings)
    try:
        await vectors.ensure_collection(store)
        for repo_url in repo_urls:
            await vectors.upsert_file_vectors(
                store, repo_url=repo_url, commit=COMMIT, job_id="j1", files=sample_files()
            )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def local_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_git_repo(tmp_path_factory.mktemp("show") / "sample", {"a.py": ""})


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, embedded_redis_url: str, local_repo: Path
) -> Iterator[str]:
    settings = Settings(
        alexandria_data_dir=tmp_path_factory.mktemp("show-gateway"),
        redis_url=flush(embedded_redis_url),
    )
    asyncio.run(seed(settings, [REPO, f"file://{local_repo.resolve()}"]))
    with serve_asgi(create_app(settings)) as url:
        yield url


@pytest.fixture(autouse=True)
def cli_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALEXANDRIA_DATA_DIR", str(tmp_path / "cli-data"))
    for name in (
        "ALEXANDRIA_MODE",
        "ALEXANDRIA_GATEWAY_URL",
        "ALEXANDRIA_ADMIN_TOKEN",
        "ALEXANDRIA_READ_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def show(*args: str) -> int:
    return main(["show", *args])


def test_show_writes_the_repositorys_page(
    gateway: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "graph.html"
    args = ["github.com/a/b.git", "--out", str(out), "--gateway", gateway]
    assert show(*args, "--color-by", "language") == 0
    assert f"{len(IMPORTS)} files" in capsys.readouterr().out
    data = embedded_data(out.read_text(encoding="utf-8"))
    assert (data["repo_url"], data["commit"], data["color_by"]) == (REPO, COMMIT, "language")
    paths = [node["path"] for node in data["nodes"]]
    assert paths == sorted(IMPORTS)
    drawn = {(paths[s], paths[t]) for s, t in data["edges"]}
    assert drawn == {(source, target) for source, targets in IMPORTS.items() for target in targets}


def test_show_json_says_what_it_wrote(
    gateway: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "graph.html"
    assert show("github.com/a/b", "--out", str(out), "--gateway", gateway, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "out": str(out),
        "repo_url": REPO,
        "commit": COMMIT,
        "files": len(IMPORTS),
        "imports": sum(len(targets) for targets in IMPORTS.values()),
        "truncated": False,
    }


def test_show_accepts_a_local_path_in_local_mode(
    gateway: str, local_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "local.html"
    assert show(str(local_repo), "--out", str(out), "--gateway", gateway) == 0
    assert embedded_data(out.read_text())["repo_url"] == f"file://{local_repo.resolve()}"


@pytest.mark.parametrize(
    ("repo", "gateway_url", "code", "message"),
    [
        ("github.com/a/unknown", None, output.FAILED, "404 repository_not_found"),
        ("evil.example/a/b", None, output.FAILED, "not in the allowed hosts"),
        ("github.com/a/b", "http://127.0.0.1:9", output.UNAVAILABLE, "cannot reach the gateway"),
    ],
)
def test_show_failures_exit_non_zero_and_say_why(
    gateway: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    repo: str,
    gateway_url: str | None,
    code: int,
    message: str,
) -> None:
    out = tmp_path / "graph.html"
    assert show(repo, "--out", str(out), "--gateway", gateway_url or gateway) == code
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_show_into_a_missing_folder_fails_and_says_why(
    gateway: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "graph.html"
    assert show("github.com/a/b", "--out", str(out), "--gateway", gateway) == output.FAILED
    assert f"cannot write {out}" in capsys.readouterr().err
