"""Import extraction from Python source."""

from __future__ import annotations

from services.parser.python_imports import PythonImport, extract


def imports(source: str | bytes) -> list[PythonImport]:
    data = source.encode() if isinstance(source, str) else source
    return list(extract("m.py", data).facts)


def test_plain_and_aliased_imports() -> None:
    assert imports("import a.b.c as x, d\nimport e . f\n") == [
        PythonImport("a.b.c"),
        PythonImport("d"),
        PythonImport("e.f"),
    ]


def test_from_imports_with_aliases_and_parentheses() -> None:
    assert imports("from a.b import c, d as e\nfrom f import (g,\n  h)\n") == [
        PythonImport("a.b", ("c", "d")),
        PythonImport("f", ("g", "h")),
    ]


def test_relative_and_wildcard_imports() -> None:
    source = "from . import x\nfrom ..pkg import y\nfrom ...deep.er import z\nfrom m import *\n"
    assert imports(source) == [
        PythonImport("", ("x",), level=1),
        PythonImport("pkg", ("y",), level=2),
        PythonImport("deep.er", ("z",), level=3),
        PythonImport("m", ("*",)),
    ]
    assert imports("from ..pkg import y")[0].specifier == "..pkg"


def test_imports_inside_functions_classes_and_try_count() -> None:
    source = """
def f():
    import inner
class C:
    from k import v
try:
    import fast
except ImportError:
    import slow
"""
    assert [i.module for i in imports(source)] == ["inner", "k", "fast", "slow"]


def test_import_words_outside_import_statements_are_not_imports() -> None:
    source = """
'''Docs: import fake
>>> from doc import example
'''
s = "import in_a_string"  # import in_a_comment
importlib = reimport = import_ = 1
x = f"{importlib} from nothing import here"
import real
"""
    assert imports(source) == [PythonImport("real")]


def test_type_checking_imports_are_type_only() -> None:
    source = """
import typing
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from a import A
if typing.TYPE_CHECKING:
    import b
else:
    import c
"""
    found = {i.module: i.type_only for i in imports(source)}
    assert found == {"typing": False, "a": True, "b": True, "c": False}


def test_only_a_plain_type_checking_condition_guards_imports() -> None:
    source = """
def f():
    if TYPE_CHECKING:
        import nested
if not TYPE_CHECKING:
    import negated
if MY_TYPE_CHECKING:
    import other_flag
if TYPE_CHECKING.x:
    import attribute_of_it
if TYPE_CHECKING or DEBUG:
    import either
flag = "TYPE_CHECKING"
"""
    found = {i.module: i.type_only for i in imports(source)}
    assert found == {
        "nested": True,
        "negated": False,
        "other_flag": False,
        "attribute_of_it": False,
        "either": False,
    }


def test_every_import_of_a_stub_is_type_only() -> None:
    result = extract("pkg/mod.pyi", b"import a\nfrom .b import C\n")
    assert result.facts == (PythonImport("a", type_only=True), PythonImport("b", ("C",), 1, True))


def test_future_imports_are_not_dependencies() -> None:
    assert imports("from __future__ import annotations\nimport os\n") == [PythonImport("os")]


def test_syntax_error_keeps_imports_and_notes_the_error() -> None:
    result = extract("m.py", b"import good\ndef broken(:\n    pass\nimport after\n")
    assert [i.module for i in result.facts] == ["good", "after"]
    assert result.error == "syntax error (missing token); imports found were kept"
    result = extract("m.py", b"import a\nx = 1\n$$$\nimport b\nq = )\n")
    assert [i.module for i in result.facts] == ["a", "b"]
    assert result.error == "syntax error near line 3; imports found were kept"


def test_the_note_finds_an_error_nested_deeper_than_the_recursion_limit() -> None:
    source = b"import a\n" + b"def f():\n if x:\n  " * 300 + b"y = )\n"
    result = extract("m.py", source)
    assert [i.module for i in result.facts] == ["a"]
    assert result.error == "syntax error near line 602; imports found were kept"


def test_invalid_utf8_in_a_condition_is_no_failure() -> None:
    # A regular-expression predicate on the condition once decoded it strictly and raised.
    result = extract("m.py", b"if quant_max\xff\xfee).max:\n    import x\n")
    assert result.facts == (PythonImport("x"),)
    assert result.error is not None


def test_clean_file_has_no_note() -> None:
    assert extract("m.py", b"import os\n").error is None


def test_any_encoding_parses() -> None:
    latin1 = "# -*- coding: latin-1 -*-\ns = 'café'\nimport os\n".encode("latin-1")
    assert imports(latin1) == [PythonImport("os")]
    assert imports(b"\xff\xfe\x00junk = 1\nimport json\n")[-1] == PythonImport("json")
