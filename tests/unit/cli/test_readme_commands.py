"""The README's shell blocks are meant to be pasted line by line: every `alexandria`
command in them is one the CLI's parser accepts, every `make` target exists, and no
line carries usage-style `[optional]` brackets that a shell would pass on literally."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from alexandria.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
REDIRECT = {">", ">>", "<", "2>", "&>"}


def shell_commands(markdown: str) -> list[list[str]]:
    """Each simple command of the markdown's bash blocks, as its words (comments and
    line continuations handled as the shell does, redirections and `&` cut off)."""
    commands = []
    for block in SHELL_BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words: list[str] = []
            redirected = False
            for token in [*lexer, ";"]:
                if token in REDIRECT or token.endswith(">"):
                    redirected = True  # the next word is a file, not an argument
                elif set(token) <= set("&|;()"):
                    if words:
                        commands.append(words)
                    words, redirected = [], False
                elif redirected:
                    redirected = False
                else:
                    words.append(token)
    return commands


def _program(words: list[str]) -> tuple[str, list[str]]:
    """The program a command runs (after `VAR=value` prefixes and `until`/`do`), and its
    arguments."""
    while words and (re.match(r"^\w+=", words[0]) or words[0] in ("until", "while", "do")):
        words = words[1:]
    return (Path(words[0]).name, words[1:]) if words else ("", [])


def _make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))


def _parse_error(argv: list[str]) -> str | None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as exc:
        return stderr.getvalue().strip() or f"exit {exc.code}"
    return None


def readme_commands() -> list[list[str]]:
    return shell_commands((ROOT / "README.md").read_text())


def test_the_readme_has_the_walkthrough_commands() -> None:
    programs = [_program(words) for words in readme_commands()]
    subcommands = {args[0] for name, args in programs if name == "alexandria" and args}
    assert {"up", "ingest", "jobs", "status", "similar", "search", "show"} <= subcommands


@pytest.mark.parametrize("words", readme_commands(), ids=lambda words: " ".join(words)[:60])
def test_every_readme_command_is_accepted(words: list[str]) -> None:
    assert not [w for w in words if w.startswith("[") or w.endswith("]")], words
    name, args = _program(words)
    if name == "alexandria":
        assert _parse_error(args) is None, (words, _parse_error(args))
    elif name == "make":
        assert set(a for a in args if "=" not in a) <= _make_targets(), words


def started_and_not_stopped(markdown: str) -> list[str]:
    """The lines of each bash block that start a process in the background (`… &`)
    with no `kill` after them in the same block: pasted, they would leave it running."""
    left = []
    for block in SHELL_BLOCK.findall(markdown):
        lines = [
            shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()
        ]
        for i, words in enumerate(lines):
            if words and words[-1] == "&" and not any(w[:1] == ["kill"] for w in lines[i + 1 :]):
                left.append(" ".join(words))
    return left


def test_every_process_started_in_the_background_is_stopped() -> None:
    assert started_and_not_stopped((ROOT / "README.md").read_text()) == []
    assert started_and_not_stopped("```bash\nalexandria up &\nalexandria jobs\n```\n") == [
        "alexandria up &"
    ]


def test_a_drifted_command_is_caught() -> None:
    """The checks above can fail: a usage-style bracket, an unknown flag or subcommand,
    a missing make target."""
    bad = shell_commands(
        "```bash\n"
        ".venv/bin/alexandria show . --out x.html [--color-by language]\n"
        "alexandria ingest . --wiat   # a typo\n"
        "ALEXANDRIA_DATA_DIR=.a alexandria upp &\n"
        "make demos\n"
        "```\n"
    )
    assert [_program(words)[0] for words in bad] == ["alexandria"] * 3 + ["make"]
    assert "[--color-by" in bad[0]
    assert "unrecognized arguments: --wiat" in (_parse_error(_program(bad[1])[1]) or "")
    assert "invalid choice: 'upp'" in (_parse_error(_program(bad[2])[1]) or "")
    assert "demos" not in _make_targets()
