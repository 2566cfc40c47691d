"""A file's identifier tokens, read by one lexical pass over its bytes.

Every word that can name something in the file's language (a letter or `_`, then
letters, digits and `_`; `$` too in JavaScript, TypeScript and Java; any non-ASCII
byte, as the languages allow Unicode names) counts, unless it is in a comment or a
string literal, or is one of the language's reserved words (`RESERVED`). An
interpolation inside a string (`f"{user.name}"`, `` `${user.name}` ``) is code, and
counts; a reserved word right after a `.` names a property (`router.delete`), and
counts. Numbers (`0x1F`, `1e10`) are not words. Each word is split at snake_case,
camelCase and digit boundaries (`HTTPServer2_config` → http, server, config),
lower-cased, and counted; tokens shorter than two characters or all digits are
dropped. Generated files (by name, or by a marker in their first kilobyte) get no
tokens: their names would drown the hand-written ones. `weigh_terms` weights them per
repository (tf-idf), for `graph.py`.

Until 2026-12 these were the identifier leaves of the file's tree-sitter tree, found
by a query. The query walked every node of the tree, a quarter of the parse's own
time, and the whole pass took 2.0 s of sympy's extraction; this pass takes 1.1 s and
gives each file nearly the same 48 strongest tokens (mean Jaccard against the tree's:
sympy 0.9999, gin 0.9996, httpx 0.997, koa 0.996, gson 0.996, express 0.995,
commander 0.987), and the same related-files answers (benchmarks/README.md). A Go file's
imports need only the parse of its header, so it is no longer parsed whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

from services.common.tokens import split_identifier

Terms = tuple[tuple[str, int], ...]
"""(token, count) pairs, sorted by token."""

GENERATED_SUFFIXES = (
    "_pb2.py",
    "_pb2.pyi",
    "_pb2_grpc.py",
    ".pb.go",
    ".pb.gw.go",
    "_pb.js",
    "_pb.d.ts",
    "_grpc_pb.js",
    ".min.js",
    ".min.mjs",
    ".min.cjs",
)
"""File names that say a tool wrote the file."""
GENERATED_HEADER_BYTES = 1024
_GENERATED_MARKER = re.compile(
    rb"@generated\b|Code generated\b|DO NOT EDIT|(?i:\bauto-?generated\b)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_JS_RESERVED = (
    "break case catch class const continue debugger default delete do else enum export "
    "extends false finally for function if import in instanceof new null return super "
    "switch this throw true try typeof undefined var void while with yield let await "
    "implements interface package private protected public static from as of async get set"
)
RESERVED: dict[str, frozenset[str]] = {
    "python": _words(
        "False None True and as assert async await break class continue def del elif else "
        "except finally for from global if import in is lambda nonlocal not or pass raise "
        "return try while with yield"
    ),
    "javascript": _words(_JS_RESERVED),
    "typescript": _words(
        f"{_JS_RESERVED} any bigint boolean keyof never number object readonly satisfies "
        "string symbol unknown infer"
    ),
    "java": _words(
        "abstract assert boolean break byte case catch char class const continue default do "
        "double else enum extends false final finally float for goto if implements import "
        "instanceof int interface long native new null package private protected public "
        "return short static strictfp super switch synchronized this throw throws transient "
        "true try void volatile while"
    ),
    "go": _words(
        "break case chan const continue default defer else fallthrough false for func go "
        "goto if import interface iota map nil package range return select struct switch "
        "true type var"
    ),
}
"""Each language's words that never name anything (keywords, literals such as `None`,
`null`, `nil`, and TypeScript's predefined types); contextual keywords are not here."""


_LINE_END = r"(?=\n)|\Z"
_ESCAPE = r"\\(?:.|\Z)"  # a backslash escapes the next byte, if there is one


def _quoted(quote: str, *, multiline: bool = False) -> str:
    """A `quote`-delimited literal with backslash escapes; unterminated, it ends with
    its line (or the file, when `multiline`), so that no scan fails and restarts: every
    pattern here reads each byte a bounded number of times, whatever the file."""
    stop = rf"{quote}\\" + ("" if multiline else r"\n")
    end = r"\Z" if multiline else _LINE_END
    return rf"{quote}[^{stop}]*+(?:{_ESCAPE}[^{stop}]*+)*+(?:{quote}|{end})"


def _triple(quote: str) -> str:
    """A `quote * 3` literal (unterminated: to the end of the file)."""
    q = quote
    return rf"{q * 3}[^{q}\\]*+(?:(?:{_ESCAPE}|{q}(?!{q * 2}))[^{q}\\]*+)*+(?:{q * 3}|\Z)"


_C_COMMENTS = r"//[^\n]*+|/\*.*?(?:\*/|\Z)"
_JS_REGEX = (
    r"(?<=[(,=:\[!&|?{};])[ \t]*/(?![/*])"
    rf"(?:[^/\\\n\[]++|{_ESCAPE}|\[(?:[^\]\\\n]++|{_ESCAPE})*+(?:\]|{_LINE_END}))*+"
    rf"(?:/|{_LINE_END})"
)
"""A regular-expression literal where an expression starts (after `(`, `,`, `=`, …): a
`/` after a name or a `)` divides."""
_NOT_CODE = {
    "python": rf"#[^\n]*+|{_triple(chr(34))}|{_triple(chr(39))}|{_quoted(chr(34))}|"
    + _quoted(chr(39)),
    "javascript": rf"\A#![^\n]*+|{_C_COMMENTS}|{_JS_REGEX}|{_quoted(chr(34))}|{_quoted(chr(39))}|"
    + _quoted("`", multiline=True),
    "java": rf"{_C_COMMENTS}|{_triple(chr(34))}|{_quoted(chr(34))}|{_quoted(chr(39))}",
    "go": rf"{_C_COMMENTS}|{_quoted(chr(34))}|{_quoted(chr(39))}|`[^`]*+(?:`|\Z)",
}
_NOT_CODE["typescript"] = _NOT_CODE["javascript"]
_SKIPPED = {
    grammar: re.compile(pattern.encode(), re.DOTALL) for grammar, pattern in _NOT_CODE.items()
}
"""Comments and string literals: blanked before the words are read."""
_WORD = r"[A-Za-z_\x80-\xff][\w\x80-\xff]*+"
_DOLLAR_WORD = r"[A-Za-z_$\x80-\xff][\w$\x80-\xff]*+"
_WORD_START = r"(?<![\w$\x80-\xff])"
_DOTTED_START = rf"(?:\.|{_WORD_START})"
_WORDS = {
    grammar: re.compile(rf"{start}{word}".encode())
    for grammar, start, word in (
        ("python", _WORD_START, _WORD + '(?!")'),  # not a string's prefix (`rb"…"`)
        ("javascript", _DOTTED_START, _DOLLAR_WORD),
        ("typescript", _DOTTED_START, _DOLLAR_WORD),
        ("java", _WORD_START, _DOLLAR_WORD),  # after a `.`, only `class` (`Foo.class`)
        ("go", _WORD_START, _WORD),
    )
}
"""Words not inside another (so no `e10` of `1e10`); in JavaScript and TypeScript, each
with the `.` before it, if any: there a reserved word can name a property."""
_F_STRING_CODE = re.compile(rb"\{([^{}]*)\}")
_TEMPLATE_CODE = re.compile(rb"\$\{([^{}]*)\}")
_PY_PREFIX = re.compile(rb"(?<![\w\x80-\xff])[rRbBuUfF]{1,2}\Z")
"""A string prefix ending where the literal starts (searched up to its start)."""
_RESERVED_BYTES = {
    grammar: tuple(word.encode() for word in words) for grammar, words in RESERVED.items()
}
_SPLIT_CACHE_LIMIT = 1 << 16
_split_cache: dict[bytes, tuple[str, ...]] = {}


_BLANK = b'"'
"""What a comment or literal becomes: a `"`, which also keeps a Python string's prefix
(`rb"…"`) from being read as a word."""


def _with_code(literal: bytes, code: re.Pattern[bytes]) -> bytes:
    return _BLANK + b" " + b" ".join(code.findall(literal)) + b" "


def _blank_python(literal: re.Match[bytes]) -> bytes:
    """`_BLANK`, then the code of an f-string's `{…}` (its prefix, right before the
    quote, has an `f`)."""
    text, start = literal.group(), literal.start()
    if b"{" in text:
        prefix = _PY_PREFIX.search(literal.string, max(0, start - 3), start)
        if prefix is not None and b"f" in prefix.group().lower():
            return _with_code(text, _F_STRING_CODE)
    return _BLANK


def _blank_script(literal: re.Match[bytes]) -> bytes:
    """`_BLANK`, then the code of a template literal's `${…}`."""
    text = literal.group()
    return _with_code(text, _TEMPLATE_CODE) if text[:1] == b"`" and b"${" in text else _BLANK


def is_generated(path: str, source: bytes) -> bool:
    """Whether the file says a tool wrote it (its name, or a marker in its header)."""
    if path.lower().endswith(GENERATED_SUFFIXES):
        return True
    return _GENERATED_MARKER.search(source, 0, GENERATED_HEADER_BYTES) is not None


def _tokens(name: bytes) -> tuple[str, ...]:
    tokens = _split_cache.get(name)
    if tokens is None:
        if len(_split_cache) >= _SPLIT_CACHE_LIMIT:
            _split_cache.clear()
        tokens = _split_cache[name] = tuple(
            split_identifier(name.decode("utf-8", errors="replace"))
        )
    return tokens


_BLANKS: dict[str, bytes | Callable[[re.Match[bytes]], bytes]] = {
    "python": _blank_python,
    "javascript": _blank_script,
    "typescript": _blank_script,
    "java": _BLANK,
    "go": _BLANK,
}


def count_terms(grammar: str, path: str, source: bytes) -> Terms:
    """The tokens of every word of `source` that can name something (see the module
    docstring; `grammar` is "python", "javascript", "typescript", "java" or "go"), with
    their counts; none for a generated file."""
    if is_generated(path, source):
        return ()
    code = _SKIPPED[grammar].sub(_BLANKS[grammar], source)
    names = Counter(_WORDS[grammar].findall(code))
    for word in _RESERVED_BYTES[grammar]:
        names.pop(word, None)
    counts: Counter[str] = Counter()
    for name, count in names.items():
        for token in _tokens(name[1:] if name[:1] == b"." else name):
            counts[token] += count
    return tuple(sorted(counts.items()))


IDENTIFIER_TERMS = 48
"""Each file keeps this many of its strongest tokens."""
MIN_IDF = 0.05
"""Tokens with a lower idf are dropped: with idf = ln((1 + N) / (1 + df)) that is a
token in more than about 95% of the files, which tells no file from another."""

WeightedTerms = tuple[tuple[str, float], ...]


def weigh_terms(files: Sequence[Terms], *, keep: int = IDENTIFIER_TERMS) -> list[WeightedTerms]:
    """Each file's tf-idf weighted tokens over the repository `files` (token counts per
    file): tf = 1 + ln(count), idf = ln((1 + N) / (1 + df)) with N the files that have
    tokens; the `keep` strongest (ties by token), L2-normalised, strongest first."""
    documents = sum(1 for terms in files if terms)
    frequency: Counter[str] = Counter(token for terms in files for token, _ in terms)
    idf = {
        token: weight
        for token, df in frequency.items()
        if (weight := math.log((1 + documents) / (1 + df))) >= MIN_IDF
    }
    weighted: list[WeightedTerms] = []
    for terms in files:
        # (-weight, token) pairs sort strongest first, ties by token, with no key function
        scored = [
            (-((_TF[count] if count < _TF_COUNTS else 1 + math.log(count)) * w), token)
            for token, count in terms
            if (w := idf.get(token))
        ]
        scored.sort()
        del scored[keep:]
        norm = math.sqrt(sum(weight * weight for weight, _ in scored))
        weighted.append(tuple((token, -weight / norm) for weight, token in scored))
    return weighted


_TF_COUNTS = 1024
_TF = tuple(1 + math.log(count) if count else 0.0 for count in range(_TF_COUNTS))
"""tf = 1 + ln(count) for the usual counts, looked up (counts start at 1)."""
