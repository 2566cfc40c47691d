"""Per-file parse results cached by git blob id, so re-ingesting re-parses only changes.

A file's extraction depends only on its bytes, its extension (which picks the
grammar) and the extractor, so the key is `<fingerprint>:<extension>:<blob id>`;
the fingerprint hashes the extractor module's source, the modules every extractor
shares (`SHARED_MODULES`: identifier tokens, tree-sitter plumbing, the records) and
the installed tree-sitter packages, so changing any of them invalidates the entries
it affects without any version to bump by hand. Entries live in one SQLite file
under the data dir (WAL, safe for concurrent jobs); past `max_entries` the oldest
are dropped. The cache is an optimisation only: when its file is unusable a warning
is logged and the build goes on without it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import io
import logging
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from contextlib import closing
from functools import cache
from pathlib import Path

from services.parser.records import Extraction

log = logging.getLogger(__name__)

PARSE_CACHE_FILE = "parse-cache.sqlite3"
"""The cache's file name under the data dir."""
DEFAULT_MAX_ENTRIES = 2_000_000
SHARED_MODULES = (
    "services.parser.identifiers",
    "services.parser.records",
    "services.parser.treesitter",
)
"""Modules whose code shapes every extraction, whatever the language."""
_BATCH = 500
_SCHEMA = "CREATE TABLE IF NOT EXISTS extraction (key TEXT PRIMARY KEY, value BLOB NOT NULL)"


class _RecordUnpickler(pickle.Unpickler):
    """Loads only the parser's own record types: a tampered cache file cannot run code."""

    _BUILTINS = frozenset({"tuple", "frozenset", "set", "list", "dict", "str", "int", "bool"})

    def find_class(self, module: str, name: str) -> type:
        if module.startswith("services.parser.") or (
            module == "builtins" and name in self._BUILTINS
        ):
            found: type = super().find_class(module, name)
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not a parser record")


@cache
def _grammar_versions() -> str:
    names = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("_", "-").startswith("tree-sitter")
    )
    return ";".join(names)


@cache
def fingerprint(module_name: str) -> str:
    """A short hash of extractor module `module_name`'s source, the shared modules'
    sources and the grammar versions."""
    digest = hashlib.sha256()
    for name in (module_name, *SHARED_MODULES):
        module = sys.modules.get(name) or importlib.import_module(name)
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(_grammar_versions().encode())
    return digest.hexdigest()[:16]


class ParseCache:
    """Extractions by key (see the module docstring) in the SQLite file at `path`."""

    def __init__(self, path: Path, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(_SCHEMA)
        return connection

    def get_many(self, keys: Iterable[str]) -> dict[str, Extraction]:
        """The cached extractions among `keys` (unusable entries are treated as misses)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Extraction] = {}
        try:
            with closing(self._connect()) as db:
                for start in range(0, len(wanted), _BATCH):
                    batch = wanted[start : start + _BATCH]
                    marks = ",".join("?" * len(batch))
                    rows = db.execute(
                        f"SELECT key, value FROM extraction WHERE key IN ({marks})", batch
                    )
                    for key, value in rows:
                        extraction = _loads(value)
                        if extraction is not None:
                            found[key] = extraction
        except sqlite3.Error as exc:
            log.warning("parse cache %s unusable, parsing without it: %s", self.path, exc)
            return {}
        return found

    def put_many(self, items: Mapping[str, Extraction]) -> None:
        """Store `items`, then drop the oldest entries beyond `max_entries`."""
        if not items:
            return
        rows = [(key, pickle.dumps(value, protocol=5)) for key, value in items.items()]
        try:
            with closing(self._connect()) as db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT OR REPLACE INTO extraction VALUES (?, ?)", rows)
                db.execute(
                    "DELETE FROM extraction WHERE rowid <= (SELECT MAX(rowid) FROM extraction) - ?",
                    (self.max_entries,),
                )
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("parse cache %s unusable, results not stored: %s", self.path, exc)


def _loads(value: bytes) -> Extraction | None:
    try:
        loaded = _RecordUnpickler(io.BytesIO(value)).load()
    except Exception:
        return None
    return loaded if isinstance(loaded, Extraction) else None
