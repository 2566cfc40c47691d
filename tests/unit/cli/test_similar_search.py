"""`alexandria similar` and `alexandria search` as people read them: one score format, the
reasons in a few words with `--why`, the history note once, and `--json` as the gateway
answered. The answers are recorded gateway JSON (the REST shape of the contracts)."""

from __future__ import annotations

import copy
import json
from typing import Any, cast

import pytest

from alexandria import gateway_commands, output
from alexandria.cli import build_parser
from alexandria.gateway_client import GatewayClient
from alexandria.gateway_commands import search, similar, why_text

REPO = "https://github.com/psf/requests"
QUERIED = "src/requests/sessions.py"

SIMILAR = {
    "repo_url": REPO,
    "file_path": QUERIED,
    "mode": "hybrid",
    "history": "1234 commits",
    "results": [
        {
            "repo_url": REPO,
            "file_path": "src/requests/adapters.py",
            "language": "python",
            "score": 0.9,
            "reasons": {
                "structure": 0.8123,
                "text": 0.41,
                "shared_identifiers": ["session", "redirect", "proxies", "adapter"],
                "commits_together": 7,
                "last_changed_together": "2026-10-02T21:14:03Z",
                "import_relation": "imports",
                "same_directory": True,
                "history": 2.5,
            },
        },
        {
            "repo_url": REPO,
            "file_path": "tests/test_sessions.py",
            "language": "python",
            "score": 0.25,
            "reasons": {
                "structure": -0.12,
                "text": 0.0,
                "shared_identifiers": [],
                "commits_together": 1,
                "last_changed_together": None,
                "import_relation": "imported_by",
                "same_directory": False,
                "history": 0.5,
                "same_name": True,
            },
        },
    ],
}

SEARCH = {
    "repo_url": REPO,
    "q": "session redirect",
    "results": [
        {
            "repo_url": REPO,
            "file_path": QUERIED,
            "language": "python",
            "score": 1.0,
            "reasons": {
                "structure": 0.0,
                "text": 1.0,
                "shared_identifiers": ["session", "redirect"],
                "commits_together": 0,
                "last_changed_together": None,
                "import_relation": "none",
                "same_directory": False,
                "history": 0.0,
            },
        },
        {
            "repo_url": REPO,
            "file_path": "src/requests/models.py",
            "language": "python",
            "score": 0.5,
            "reasons": {
                "structure": 0.0,
                "text": 0.5,
                "shared_identifiers": ["redirect"],
                "commits_together": 0,
                "last_changed_together": None,
                "import_relation": "none",
                "same_directory": False,
                "history": 0.0,
            },
        },
    ],
}


class RecordedGateway:
    """Answers every GET with one recorded body, and remembers what was asked."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        self.asked.append((path, params))
        return copy.deepcopy(self.body)

    @property
    def client(self) -> GatewayClient:
        return cast(GatewayClient, self)


def run_similar(
    capsys: pytest.CaptureFixture[str], body: dict[str, Any], **options: Any
) -> tuple[RecordedGateway, list[str]]:
    gateway = RecordedGateway(body)
    settings = {"limit": 10, "all_repos": False, "as_json": False, **options}
    assert similar(gateway.client, REPO, QUERIED, **settings) == output.OK
    return gateway, capsys.readouterr().out.splitlines()


def test_similar_asks_for_the_mode_and_prints_one_score_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gateway, lines = run_similar(capsys, SIMILAR, limit=3, mode="text")
    [(path, params)] = gateway.asked
    assert path == "/api/v1/graph/similar"
    assert params == {
        "repo_url": REPO,
        "file_path": QUERIED,
        "limit": 3,
        "same_repo": "true",
        "mode": "text",
    }
    assert lines == [
        f"related to {QUERIED} in {REPO} (hybrid):",  # the mode the gateway says it used
        "score  file                      language",
        "0.900  src/requests/adapters.py  python",
        "0.250  tests/test_sessions.py    python",
    ]


def test_why_adds_each_files_reasons_in_a_few_words(capsys: pytest.CaptureFixture[str]) -> None:
    _, lines = run_similar(capsys, SIMILAR, why=True)
    assert lines[1].split() == ["score", "file", "language", "why"]
    assert lines[2].endswith(
        "imported by sessions.py · 7 commits together (last 2026-10-02) · "
        "shares: session, redirect, proxies · same dir · structure 0.812 · text 0.410"
    )
    assert lines[3].endswith(
        "imports sessions.py · 1 commit together · same name · structure -0.120"
    )
    assert len(lines) == 4  # history was read: no note


@pytest.mark.parametrize(
    ("reasons", "text"),
    [
        (None, "-"),
        ({}, "-"),
        ({"structure": 0}, "structure 0.000"),
        ({"import_relation": "none", "structure": 0.5}, "structure 0.500"),
        (
            {"import_relation": "both", "structure": 1},
            "imports and is imported by a.py · structure 1.000",
        ),
        (
            {"commits_together": 2, "last_changed_together": "2026-01-31T23:30:00-02:00"},
            "2 commits together (last 2026-02-01) · structure 0.000",  # the UTC date
        ),
        (
            {"commits_together": 3, "last_changed_together": "recently"},
            "3 commits together (last recently)",
        ),
    ],
)
def test_why_text_covers_every_relation_and_missing_evidence(
    reasons: dict[str, Any] | None, text: str
) -> None:
    assert why_text(reasons, "pkg/a.py").startswith(text)


def test_the_no_history_note_is_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    body = {**SIMILAR, "history": "no history: a one-commit snapshot"}
    _, lines = run_similar(capsys, body, why=True)
    assert lines.count("no history: a one-commit snapshot") == 1
    assert lines[-1] == "no history: a one-commit snapshot"


def test_an_older_gateways_answer_still_prints(capsys: pytest.CaptureFixture[str]) -> None:
    old = {
        "repo_url": REPO,
        "file_path": QUERIED,
        "results": [
            {"repo_url": REPO, "file_path": "a.py", "language": "python", "score": 0.5},
        ],
    }
    _, lines = run_similar(capsys, old, why=True, all_repos=True)
    assert lines[0] == f"related to {QUERIED} in {REPO} (hybrid):"
    assert lines[1].split() == ["score", "file", "language", "repository", "why"]
    assert lines[2].split() == ["0.500", "a.py", "python", REPO, "-"]


@pytest.mark.parametrize("command", ["similar", "search"])
def test_json_is_the_gateways_answer_as_is(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = SIMILAR if command == "similar" else SEARCH
    gateway = RecordedGateway(body)
    if command == "similar":
        code = similar(
            gateway.client, REPO, QUERIED, limit=5, all_repos=False, as_json=True, why=True
        )
    else:
        code = search(gateway.client, REPO, "session redirect", limit=5, as_json=True)
    assert code == output.OK
    assert json.loads(capsys.readouterr().out) == body


def test_search_prints_scores_and_the_matched_words(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = RecordedGateway(SEARCH)
    assert search(gateway.client, REPO, "session redirect", limit=4, as_json=False) == 0
    assert gateway.asked == [
        ("/api/v1/graph/search", {"repo_url": REPO, "q": "session redirect", "limit": 4})
    ]
    assert capsys.readouterr().out.splitlines() == [
        f"files matching 'session redirect' in {REPO}:",
        "score  file                      language  matches",
        "1.000  src/requests/sessions.py  python    session, redirect",
        "0.500  src/requests/models.py    python    redirect",
    ]


def test_search_with_no_match_prints_an_empty_table(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = RecordedGateway({"repo_url": REPO, "q": "zebra", "results": []})
    assert search(gateway.client, REPO, "zebra", limit=10, as_json=False) == output.OK
    assert capsys.readouterr().out.splitlines()[1].split() == [
        "score",
        "file",
        "language",
        "matches",
    ]


def test_the_parser_takes_mode_why_and_search() -> None:
    parser = build_parser()
    args = parser.parse_args(["similar", ".", "a.py", "--mode", "history", "--why", "-k", "3"])
    assert (args.mode, args.why, args.k, args.func) == (
        "history",
        True,
        3,
        gateway_commands._similar,
    )
    assert parser.parse_args(["similar", ".", "a.py"]).mode == "hybrid"
    args = parser.parse_args(["search", ".", "session redirect", "--json"])
    assert (args.words, args.k, args.json, args.func) == (
        "session redirect",
        10,
        True,
        gateway_commands._search,
    )


def test_an_unknown_mode_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["similar", ".", "a.py", "--mode", "fuzzy"])
    assert exited.value.code == output.USAGE
    assert "--mode" in capsys.readouterr().err


def test_scores_have_one_format_in_every_table() -> None:
    assert [output.score_text(v) for v in (1, 0.5, 0.81234, -0.12)] == [
        "1.000",
        "0.500",
        "0.812",
        "-0.120",
    ]
