"""The repository stands alone: what its code, tests and docs point to is in it.

- Every requirement ID cited (`R11.2`, `P14`, a test named `test_p14_…`) is defined in
  docs/requirements.md, and every ID defined there is cited somewhere.
- Every markdown document named outside tests/ exists (relative to the naming file or
  to the repository root), and a section named after it (`docs/architecture.md,
  "Queue and state"`) is one of its headings.
- Nothing names a document of another repository (an `ARCHITECTURE.md`, `../shared`).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

THIS_FILE = Path(__file__).resolve()
ROOT = THIS_FILE.parents[2]
REQUIREMENTS = ROOT / "docs" / "requirements.md"
TEXT_SUFFIXES = {".py", ".md", ".proto", ".yaml", ".yml", ".toml", ".sh", ".html", ".service"}
TEXT_NAMES = {"Makefile", "Dockerfile", ".dockerignore", ".gitignore"}
SKIPPED_TOPS = {"gen"}  # generated from proto/, which is scanned

ID = re.compile(r"\b(R\d+(?:\.\d+)?|P\d+)\b")
TEST_NAMED_FOR_ID = re.compile(r"\bdef test_([rp]\d+)_")
DEFINITION = re.compile(r"^- \*\*(R\d+(?:\.\d+)?|P\d+)\*\* \S", re.MULTILINE)
# A document named in prose; a quoted name is a string in code, which its own use checks.
MARKDOWN = re.compile(r"(?<![\w./\"'-])((?:\.\.?/)*[\w][\w./-]*\.md)\b")
SECTION = re.compile(r"(?<![\w./\"'-])((?:\.\.?/)*[\w][\w./-]*\.md)\)?,?\s+\"([^\"\n]+)\"")
# Spelled in pieces so that this file does not name them itself.
FOREIGN = re.compile("ARCHITECTURE" + r"\.md|\.\./" + "shared" + r"\b|\bshared/[A-Z]")


def repository_files() -> list[Path]:
    """Tracked and untracked, not ignored, text files (what a clone has, plus new work),
    but this one, whose examples cite and name things on purpose."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    files = []
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = ROOT / name
        if Path(name).parts[0] in SKIPPED_TOPS or not path.is_file() or path == THIS_FILE:
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES or ".env" in path.name:
            files.append(path)
    return files


def cited_ids(files: Iterable[Path]) -> dict[str, list[str]]:
    """ID → where it is cited (`path:line`), docs/requirements.md itself left out."""
    cited: dict[str, list[str]] = {}
    for path in files:
        if path == REQUIREMENTS:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found = ID.findall(line) + [m.upper() for m in TEST_NAMED_FOR_ID.findall(line)]
            for requirement in found:
                cited.setdefault(requirement, []).append(f"{_where(path)}:{number}")
    return cited


def _where(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def defined_ids(text: str) -> list[str]:
    return DEFINITION.findall(text)


def _headings(markdown: Path) -> set[str]:
    """Its headings, and the bold run-in heads that open a paragraph (`**Start-up:
    …**` is "Start-up")."""
    text = markdown.read_text()
    heads = {m.strip() for m in re.findall(r"^#+\s+(.+?)\s*$", text, re.MULTILINE)}
    for run_in in re.findall(r"^\*\*(.+?)\*\*", text, re.MULTILINE):
        heads.update({run_in.strip(), re.split(r"[:.]", run_in)[0].strip()})
    return heads


def _resolve(named: str, source: Path) -> Path | None:
    for base in (source.parent, ROOT):
        candidate = (base / named).resolve()
        if candidate.is_file() and candidate.is_relative_to(ROOT):
            return candidate
    return None


def broken_references(files: Iterable[Path]) -> list[str]:
    """Markdown documents named (outside tests/, whose fixtures name made-up files)
    that do not exist, and sections named that are not headings of their document."""
    broken = []
    for path in files:
        where = _where(path)
        if where.parts[0] == "tests":
            continue
        text = path.read_text(errors="replace")
        for named in sorted(set(MARKDOWN.findall(text))):
            if _resolve(named, path) is None:
                broken.append(f"{where}: {named} is not in the repository")
        for named, section in SECTION.findall(text):
            target = _resolve(named, path)
            if target is not None and section not in _headings(target):
                broken.append(f'{where}: {named} has no section "{section}"')
    return broken


def test_every_cited_requirement_id_is_defined_once() -> None:
    defined = defined_ids(REQUIREMENTS.read_text())
    assert len(defined) == len(set(defined)), sorted(d for d in defined if defined.count(d) > 1)
    cited = cited_ids(repository_files())
    undefined = {requirement: cited[requirement] for requirement in set(cited) - set(defined)}
    assert not undefined, f"cited but not defined in docs/requirements.md: {undefined}"


def test_every_defined_requirement_id_is_cited() -> None:
    unused = set(defined_ids(REQUIREMENTS.read_text())) - set(cited_ids(repository_files()))
    assert not unused, f"defined in docs/requirements.md but cited nowhere: {sorted(unused)}"


def test_the_id_checks_can_fail(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text('"""Checks R3.1 and P99."""\n\n\ndef test_p7_shapes() -> None: ...\n')
    assert cited_ids([source]) == {
        "R3.1": [f"{source}:1"],
        "P99": [f"{source}:1"],
        "P7": [f"{source}:4"],
    }
    assert defined_ids("- **R1** one line\n- **P2** another\n-**P3** not a definition\n") == [
        "R1",
        "P2",
    ]


def test_every_named_document_and_section_exists() -> None:
    assert broken_references(repository_files()) == []


def test_nothing_names_a_document_of_another_repository() -> None:
    foreign = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in repository_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if FOREIGN.search(line)
    ]
    assert foreign == []


def test_the_reference_checks_can_fail(tmp_path: Path) -> None:
    doc = ROOT / "docs" / "architecture.md"
    assert "Queue and state" in _headings(doc)
    assert _resolve("docs/architecture.md", ROOT / "services" / "common" / "queue.py") == doc
    assert _resolve("nowhere.md", ROOT / "README.md") is None
    assert SECTION.findall('(docs/architecture.md,\n"Import resolution")') == [
        ("docs/architecture.md", "Import resolution")
    ]
    assert "Start-up" in _headings(ROOT / "benchmarks" / "README.md")  # a bold run-in head
    prose = tmp_path / "notes.md"
    prose.write_text('See docs/architecture.md, "Queueing" and [this](nowhere.md).\n')
    assert broken_references([prose]) == [
        f"{prose}: nowhere.md is not in the repository",
        f'{prose}: docs/architecture.md has no section "Queueing"',
    ]
    assert FOREIGN.search("see " + "shared/" + "ARCHITECTURE.md")
    assert FOREIGN.search("../" + "shared" + "/notes")
