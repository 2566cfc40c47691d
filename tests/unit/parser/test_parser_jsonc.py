"""The tolerant tsconfig reader: JSON plus comments and trailing commas."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.parser.jsonc import loads


def test_comments_and_trailing_commas() -> None:
    text = """{
  // line comment
  "a": [1, 2, /* inline */ 3,],
  /* block
     comment */ "b": {"c": true,},
}
"""
    assert loads(text) == {"a": [1, 2, 3], "b": {"c": True}}


def test_comment_like_text_inside_strings_is_kept() -> None:
    text = r'{"paths": {"@/*": ["./src/*"]}, "url": "http://x//y", "q": "a\"//b", "e": "/**/",}'
    assert loads(text) == {
        "paths": {"@/*": ["./src/*"]},
        "url": "http://x//y",
        "q": 'a"//b',
        "e": "/**/",
    }


def test_comma_before_comment_before_bracket() -> None:
    assert loads("[1, // last\n]") == [1]
    assert loads('{"a": 1, /* c */ }') == {"a": 1}


def test_invalid_documents_give_none() -> None:
    for text in ("", "{", "{not json}", '{"a": 1 /* unterminated', "[1,,]", "[" * 100_000):
        assert loads(text) is None


# -- property: any JSON value, written with comments and trailing commas, reads back ----------

tricky_text = st.text(alphabet=st.sampled_from(["a", "/", "*", "@", '"', "\\", ",", "]", "}", " "]))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), tricky_text
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(tricky_text, inner, max_size=4)
    ),
    max_leaves=20,
)
comments = st.sampled_from(["", " ", "// c\n", "/* c */", "/* // */", "/**/", "\n// @/* x\n"])


def _write(value: Any, draw: st.DrawFn) -> str:
    """`value` as JSON with comments between tokens and, sometimes, trailing commas."""
    if isinstance(value, list | dict):
        items = (
            [_write(v, draw) for v in value]
            if isinstance(value, list)
            else [f"{json.dumps(k)}{draw(comments)}:{_write(v, draw)}" for k, v in value.items()]
        )
        trailing = "," if items and draw(st.booleans()) else ""
        body = ",".join(draw(comments) + item + draw(comments) for item in items)
        opening, closing = "[]" if isinstance(value, list) else "{}"
        return f"{opening}{body}{trailing}{draw(comments)}{closing}"
    return json.dumps(value)


@st.composite
def documents(draw: st.DrawFn) -> tuple[Any, str]:
    value = draw(values)
    return value, draw(comments) + _write(value, draw) + draw(comments)


@settings(max_examples=100, deadline=None)
@given(document=documents())
def test_json_with_comments_and_trailing_commas_round_trips(document: tuple[Any, str]) -> None:
    value, text = document
    assert loads(text) == value
