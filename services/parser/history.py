"""Which files change together: recent commits' file lists and their logical coupling.

The clone (`clone.py`) brings the last N commits without their file contents and
lists each non-merge commit's changed files with `git log --name-status -M100% -z`;
`parse_log` reads that listing, and `cochanges` turns it into weighted file pairs
(Zimmermann et al. 2005: files changed in the same commit are coupled).

- Renames are followed to the file's path at HEAD: git finds exact renames (same
  blob id, so no content is needed); an edited rename is seen as a delete and an add.
  A path deleted or created in a newer commit names another file in older commits.
- The oldest commits of a shallow clone (listed in `.git/shallow`) have no parent
  here, so they look like they add every file: they are left out.
- A commit that touches more than `max_files` files of the graph (a vendored drop, a
  mass reformat) or fewer than 2 couples nothing. Each other commit adds 1/(n-1) to
  the weight of each of its pairs, so a file's partners from one commit sum to 1.
- Each file keeps its `COCHANGE_PARTNERS` strongest partners; a pair is kept when it
  is among either file's.
- Fewer than two usable commits (a one-commit repository, a shallow source) is no
  history at all: no pairs, and a note saying why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

COCHANGE_PARTNERS = 20
"""Each file's strongest co-change partners that are kept."""

CoChangePair = tuple[int, int, float, int, int]
"""(source, target, weight, commits together, last commit time in unix seconds), source < target."""


@dataclass(frozen=True, slots=True)
class Commit:
    """A non-merge commit: its committer time (unix seconds) and the files it changed,
    by their path at HEAD (files that no longer exist are left out)."""

    time: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class History:
    """Recent commits, newest first; none with a note saying why when there is no history."""

    commits: tuple[Commit, ...] = ()
    note: str = ""


NOT_A_REPOSITORY = History(note="no history: not a git repository")

_HEADER = b"\x01"
"""`--format=%x01%H %ct`: the byte that starts each commit's header in the log."""
_TWO_PATHS = (b"R", b"C")


def parse_log(raw: bytes, shallow: frozenset[bytes], *, complete: bool = True) -> History:
    """The commits in `git log --name-status -z --format=%x01%H %ct` output `raw`
    (newest first), leaving out the shallow-boundary commits named in `shallow`. With
    `complete=False` the log was cut short: a last commit that may be partial is dropped."""
    commits: list[Commit] = []
    boundary = False
    at_head: dict[str, str | None] = {}  # older path → its path at HEAD (None: gone)
    current: tuple[bytes, int] | None = None
    touched: dict[str, None] = {}

    def finish() -> None:
        nonlocal boundary
        if current is None:
            return
        if current[0] in shallow:
            boundary = True
        else:
            commits.append(Commit(current[1], tuple(sorted(touched))))

    def follow(path: str) -> str | None:
        return at_head.get(path, path)

    tokens = raw.split(b"\0")
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip(b"\n")
        i += 1
        if token.startswith(_HEADER):
            finish()
            oid, _, when = token[1:].partition(b" ")
            try:
                current = (oid, int(when))
            except ValueError:
                current = None
            touched = {}
            continue
        if current is None or not token:
            continue
        if token[:1] in _TWO_PATHS:
            if i + 1 >= len(tokens):
                break
            old, new = os.fsdecode(tokens[i]), os.fsdecode(tokens[i + 1])
            i += 2
            head = follow(new)
            if head is not None:
                touched[head] = None
            if token[:1] == b"R":
                at_head[old] = head
            at_head[new] = None
            continue
        if i >= len(tokens):
            break
        path = os.fsdecode(tokens[i])
        i += 1
        head = follow(path)
        if head is not None:
            touched[head] = None
        if token[:1] in (b"A", b"D"):  # older commits' `path` is another file
            at_head[path] = None
    if complete:
        finish()
    return _enough(commits, boundary)


def _enough(commits: list[Commit], boundary: bool) -> History:
    if len(commits) >= 2:
        return History(tuple(commits))
    if not commits and boundary:
        return History(note="no history: the source's history is shallow (one commit)")
    if not commits:
        return History(note="no history: no commit could be read")
    shallow = " above a shallow boundary" if boundary else ""
    return History(note=f"no history: the repository has one commit{shallow}")


def cochanges(
    history: History,
    paths: Sequence[str],
    *,
    max_files: int,
    partners: int = COCHANGE_PARTNERS,
) -> list[CoChangePair]:
    """Coupled pairs of `paths` (by index), sorted by (source, target); see the module
    docstring for the rules."""
    index = {path: i for i, path in enumerate(paths)}
    pairs: dict[tuple[int, int], list[float]] = {}
    for commit in history.commits:
        nodes = sorted({index[p] for p in commit.paths if p in index})
        if not 2 <= len(nodes) <= max_files:
            continue
        share = 1.0 / (len(nodes) - 1)
        for pair in combinations(nodes, 2):
            found = pairs.get(pair)
            if found is None:
                pairs[pair] = [share, 1, commit.time]
            else:
                found[0] += share
                found[1] += 1
                found[2] = max(found[2], commit.time)
    by_file: dict[int, list[tuple[float, int, tuple[int, int]]]] = {}
    for (a, b), (weight, _, _) in pairs.items():
        by_file.setdefault(a, []).append((-weight, b, (a, b)))
        by_file.setdefault(b, []).append((-weight, a, (a, b)))
    kept: set[tuple[int, int]] = set()
    for ranked in by_file.values():
        ranked.sort()
        kept.update(pair for _, _, pair in ranked[:partners])
    return [
        (a, b, pairs[(a, b)][0], int(pairs[(a, b)][1]), int(pairs[(a, b)][2]))
        for a, b in sorted(kept)
    ]
