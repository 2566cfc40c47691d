"""The identifier pass counts exactly the names written as code: a name in a comment or
a string literal adds nothing, whatever the language and wherever it stands."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.tokens import split_identifier
from services.parser.identifiers import RESERVED, count_terms

PLACES: dict[str, tuple[str, str, str]] = {
    # how a word is written as code, in a comment, in a string literal
    "python": ("{}", "# {}\n", '"{}"'),
    "javascript": ("{}", "/* {} */", "'{}'"),
    "typescript": ("{}", "// {}\n", "`{}`"),
    "java": ("{}", "// {}\n", '"{}"'),
    "go": ("{}", "/* {} */", "`{}`"),
}
RESERVED_ANYWHERE = frozenset().union(*RESERVED.values())

word = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda w: w not in RESERVED_ANYWHERE and "generated" not in w.lower()
)


@settings(max_examples=200, deadline=None)
@given(
    grammar=st.sampled_from(sorted(PLACES)),
    written=st.lists(st.tuples(word, st.integers(0, 2)), max_size=12),
)
def test_only_names_written_as_code_count(grammar: str, written: list[tuple[str, int]]) -> None:
    source = " ".join(PLACES[grammar][place].format(name) for name, place in written) + "\n"
    expected = Counter(
        token for name, place in written if place == 0 for token in split_identifier(name)
    )
    assert dict(count_terms(grammar, "f", source.encode())) == dict(expected)
