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


def test_future_imports_are_not_dependencies() -> None:
    assert imports("from __future__ import annotations\nimport os\n") == [PythonImport("os")]


def test_syntax_error_keeps_imports_and_notes_the_error() -> None:
    result = extract("m.py", b"import good\ndef broken(:\n    pass\nimport after\n")
    assert [i.module for i in result.facts] == ["good", "after"]
    assert result.error is not None
    assert "syntax error" in result.error


def test_clean_file_has_no_note() -> None:
    assert extract("m.py", b"import os\n").error is None


def test_any_encoding_parses() -> None:
    latin1 = "# -*- coding: latin-1 -*-\ns = 'café'\nimport os\n".encode("latin-1")
    assert imports(latin1) == [PythonImport("os")]
    assert imports(b"\xff\xfe\x00junk = 1\nimport json\n")[-1] == PythonImport("json")
