"""Ranking the files related to one file, and files matching free text: pure functions.

`candidate_features` measures every signal between the queried file and each candidate
read with its vectors (`services.common.vectors.candidate_files`); `stored_features`
takes them from the candidates the job measured and stored in the queried file's point
(`StoredFile.candidates`). `rank` orders them by one mode:

- `structure`: the cosine of the structural (Node2Vec) embeddings;
- `text`: the cosine of the tf-idf identifier vectors (files sharing no identifier are
  left out);
- `history`: the logical-coupling weight of past commits together (files never changed
  together are left out);
- `hybrid` (the default): `fuse`, a weighted sum of the signals, each divided by its
  largest value among this query's candidates, with the weights `HYBRID_WEIGHTS`. Beside
  the four signals it counts the commits together (log-scaled) and how recent the last
  one was, an import either way, directory proximity, and a shared file-name stem
  (`client.go` and `client_test.go`).

Every result carries every signal's evidence whatever the mode. Ties are broken by path,
so a ranking is deterministic; a result is never the queried file and never repeats a
file. `fuse` takes the weights as an argument, so a benchmark can fit them offline.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from typing import Literal, get_args

from services.common.tokens import split_identifier
from services.common.vectors import StoredFile, parent_dir, token_index

Mode = Literal["hybrid", "structure", "text", "history"]
MODES: tuple[Mode, ...] = get_args(Mode)
ImportRelation = Literal["none", "imports", "imported_by", "both"]
SHARED_IDENTIFIERS = 5  # identifiers shown per result
RECENCY_DAYS = 180.0
"""Co-change `RECENCY_DAYS` older than a query's newest counts 1/e as much as it."""
_TEST_AFFIX = re.compile(r"^[Tt]ests?_|_tests?$|[_-](test|spec)$|^[Tt]est(?=[A-Z])|Tests?$")
"""What makes a test's file name out of its subject's: test_x, x_test, x.test, x.spec,
TestX, XTest, XTests."""


@dataclass(frozen=True)
class Features:
    """Every signal between the queried file and one candidate."""

    repo_url: str
    file_path: str
    language: str
    structure: float  # cosine of the structural embeddings
    text: float  # cosine of the identifier vectors
    history: float  # logical-coupling weight (0 when never changed together)
    commits: int  # past commits that changed both
    last_changed: int  # the newest of them, unix seconds (0 when none)
    import_relation: ImportRelation  # "imports": the queried file imports the candidate
    same_directory: bool
    proximity: float  # 1 / (1 + steps between the two directories in the tree)
    shared_identifiers: tuple[str, ...]  # the queried file's terms the candidate has too
    same_name: bool = False  # the file names share a stem once test affixes are removed


@dataclass(frozen=True)
class HybridWeights:
    """The weight of each max-normalised signal in the hybrid score."""

    structure: float
    text: float
    history: float  # the coupling weight
    commits: float  # log(1 + commits together)
    recency: float  # exp(-days the last commit together is older than the query's newest / 180)
    imports: float  # 1 when either file imports the other
    directory: float  # directory proximity
    name: float  # 1 for a shared file-name stem


SIGNALS: tuple[str, ...] = tuple(f.name for f in fields(HybridWeights))
"""The hybrid signals' names, in the weights' order."""

HYBRID_WEIGHTS = HybridWeights(
    structure=0.0,
    text=0.5,
    history=2.0,
    commits=4.0,
    recency=0.5,
    imports=0.0,
    directory=1.0,
    name=1.0,
)
"""Fitted on the tune repositories by `benchmarks/fit_fusion.py` (benchmarks/README.md)."""


@dataclass(frozen=True)
class Ranked:
    score: float
    features: Features


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either is empty, zero or their lengths differ."""
    if not a or len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms > 0 else 0.0


def sparse_cosine(a: Mapping[int, float], b: Mapping[int, float]) -> float:
    """Cosine similarity of two sparse vectors (index -> value); 0 when either is empty."""
    if len(b) < len(a):
        a, b = b, a
    dot = sum(v * b[i] for i, v in a.items() if i in b)
    if dot == 0.0:
        return 0.0
    norms = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norms


def proximity(dir_a: str, dir_b: str) -> float:
    """1 in the same directory, 1/2 for a parent or child, 1/3 for siblings, ..."""
    a = dir_a.split("/") if dir_a else []
    b = dir_b.split("/") if dir_b else []
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return 1.0 / (1 + len(a) + len(b) - 2 * common)


def name_stem(path: str) -> str:
    """A file's name without directory, extension and test affixes, lower-cased."""
    name = path.rpartition("/")[2].partition(".")[0]
    return _TEST_AFFIX.sub("", name).lower()


def _relation(imports: bool, imported_by: bool) -> ImportRelation:
    if imports and imported_by:
        return "both"
    return "imports" if imports else "imported_by" if imported_by else "none"


def shared_identifiers(
    terms: Sequence[str], identifiers: Mapping[int, float], top: int = SHARED_IDENTIFIERS
) -> tuple[str, ...]:
    """The first `top` of `terms` (in order) that `identifiers` holds."""
    shared = [t for t in dict.fromkeys(terms) if token_index(t) in identifiers]
    return tuple(shared[:top])


class _Query:
    """What every candidate of one queried file is measured against."""

    def __init__(self, query: StoredFile) -> None:
        self.file = query
        self.partners = {p.file_path: p for p in query.cochange}
        self.imports = set(query.imports)
        self.stem = name_stem(query.file_path)

    def features(
        self,
        *,
        file_path: str,
        directory: str,
        structure: float,
        text: float,
        imported_by: bool,
        language: str = "",
        shared: tuple[str, ...] = (),
    ) -> Features:
        """A candidate of the query's repository, measured."""
        partner = self.partners.get(file_path)
        return Features(
            repo_url=self.file.repo_url,
            file_path=file_path,
            language=language,
            structure=structure,
            text=text,
            history=partner.weight if partner else 0.0,
            commits=partner.commits if partner else 0,
            last_changed=partner.last_changed if partner else 0,
            import_relation=_relation(file_path in self.imports, imported_by),
            same_directory=directory == self.file.dir,
            proximity=proximity(self.file.dir, directory),
            shared_identifiers=shared,
            same_name=bool(self.stem) and name_stem(file_path) == self.stem,
        )


def _vectors_only(
    c: StoredFile,
    *,
    structure: float,
    text: float,
    shared: tuple[str, ...],
    same_name: bool = False,
) -> Features:
    """A file measured by its vectors alone: no history, imports or place."""
    return Features(
        repo_url=c.repo_url,
        file_path=c.file_path,
        language=c.language,
        structure=structure,
        text=text,
        history=0.0,
        commits=0,
        last_changed=0,
        import_relation="none",
        same_directory=False,
        proximity=0.0,
        shared_identifiers=shared,
        same_name=same_name,
    )


def candidate_features(query: StoredFile, candidates: Iterable[StoredFile]) -> list[Features]:
    """Each distinct candidate (the first of repeats), never the queried file, measured
    from its vectors."""
    measure = _Query(query)
    seen = {(query.repo_url, query.file_path)}
    measured = []
    for c in candidates:
        if (c.repo_url, c.file_path) in seen:
            continue
        seen.add((c.repo_url, c.file_path))
        structure = cosine(query.structure, c.structure)
        text = sparse_cosine(query.identifiers, c.identifiers)
        shared = shared_identifiers(query.terms, c.identifiers)
        if c.repo_url == query.repo_url:
            f = measure.features(
                file_path=c.file_path,
                directory=c.dir,
                structure=structure,
                text=text,
                imported_by=query.file_path in c.imports,
                language=c.language,
                shared=shared,
            )
        else:  # another repository shares no history, imports or place
            f = _vectors_only(
                c,
                structure=structure,
                text=text,
                shared=shared,
                same_name=bool(measure.stem) and name_stem(c.file_path) == measure.stem,
            )
        measured.append(f)
    return measured


def stored_features(query: StoredFile) -> list[Features]:
    """The job's measured candidates of `query` (`StoredFile.candidates`), with every
    signal but the candidates' language and shared identifiers (`with_details` adds
    them to the few that are returned)."""
    found = query.candidates
    if found is None:
        return []
    measure = _Query(query)
    importing = set(found.imported_by)
    return [
        measure.features(
            file_path=path,
            directory=parent_dir(path),
            structure=structure,
            text=text,
            imported_by=path in importing,
        )
        for path, structure, text in zip(found.paths, found.structure, found.text, strict=True)
        if path != query.file_path
    ]


def with_details(
    ranked: Sequence[Ranked], query: StoredFile, details: Mapping[str, StoredFile]
) -> list[Ranked]:
    """`ranked` (from `stored_features`) with each file's language and the identifiers
    it shares with `query`, from its point (`details`, by path); a file without a point
    is left out."""
    return [
        Ranked(
            r.score,
            dataclasses.replace(
                r.features,
                language=found.language,
                shared_identifiers=shared_identifiers(query.terms, found.identifiers),
            ),
        )
        for r in ranked
        if (found := details.get(r.features.file_path)) is not None
    ]


def _signals(f: Features, newest: int) -> tuple[float, ...]:
    """The hybrid signals, in HybridWeights' order, none negative; `newest` is the
    latest commit together among the query's candidates."""
    recency = math.exp(-(newest - f.last_changed) / (86400 * RECENCY_DAYS)) if f.commits else 0.0
    return (
        max(f.structure, 0.0),
        max(f.text, 0.0),
        max(f.history, 0.0),
        math.log1p(f.commits),
        recency,
        0.0 if f.import_relation == "none" else 1.0,
        f.proximity,
        1.0 if f.same_name else 0.0,
    )


def fuse(features: Sequence[Features], weights: HybridWeights) -> list[float]:
    """Each candidate's hybrid score: the weighted sum of its signals, each divided by
    that signal's largest value among `features` (a signal all zero counts 0)."""
    newest = max((f.last_changed for f in features if f.commits), default=0)
    signals = [_signals(f, newest) for f in features]
    tops = [max(column, default=0.0) for column in zip(*signals, strict=False)]
    w = astuple(weights)
    return [
        sum(wi * (si / top if top > 0 else 0.0) for wi, si, top in zip(w, s, tops, strict=True))
        for s in signals
    ]


def mode_scores(
    features: Sequence[Features], mode: Mode, weights: HybridWeights = HYBRID_WEIGHTS
) -> list[float | None]:
    """Each candidate's score in `mode`; None when the mode leaves it out."""
    if mode == "hybrid":
        return list(fuse(features, weights))
    if mode == "structure":
        return [f.structure for f in features]
    if mode == "text":
        return [f.text if f.text > 0 else None for f in features]
    return [f.history if f.commits > 0 else None for f in features]


def rank(
    features: Sequence[Features],
    mode: Mode,
    limit: int,
    weights: HybridWeights = HYBRID_WEIGHTS,
) -> list[Ranked]:
    """The best `limit` candidates in `mode`, best first, ties by path."""
    scored = [
        Ranked(score, f)
        for score, f in zip(mode_scores(features, mode, weights), features, strict=True)
        if score is not None
    ]
    scored.sort(key=lambda r: (-r.score, r.features.file_path, r.features.repo_url))
    return scored[:limit]


def query_words(text: str) -> list[str]:
    """Free text as identifier tokens, split as the parser splits identifiers (case
    changes, digits and anything not a letter), each once, in order."""
    return list(dict.fromkeys(split_identifier(text)))


def search_rank(
    hits: Sequence[tuple[StoredFile, float]], words: Sequence[str], limit: int
) -> list[Ranked]:
    """Identifier-search hits (file, match score), best first: by match score (to 6
    decimals), then by structure (the cosine to the best match's embedding), then path.
    reasons: `text` is the match score, `structure` that cosine, and
    `shared_identifiers` the words the file's identifiers hold."""
    unique: dict[tuple[str, str], tuple[StoredFile, float]] = {}
    for stored, score in hits:
        unique.setdefault((stored.repo_url, stored.file_path), (stored, score))
    if not unique:
        return []
    best = min(unique.values(), key=lambda h: (-h[1], h[0].file_path))[0]
    ranked = [
        Ranked(
            round(score, 6),
            _vectors_only(
                stored,
                structure=cosine(best.structure, stored.structure),
                text=score,
                shared=shared_identifiers(words, stored.identifiers, len(words)),
            ),
        )
        for stored, score in unique.values()
    ]
    ranked.sort(key=lambda r: (-r.score, -r.features.structure, r.features.file_path))
    return ranked[:limit]
