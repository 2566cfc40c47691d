"""Identifier tokens: split, counted per file by the lexical pass, weighted per repository."""

from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path

import pytest
from parser_helpers import build

from services.parser import cache as cache_module
from services.parser import go_imports, java_imports, js_imports, python_imports
from services.parser.cache import _loads
from services.parser.identifiers import (
    IDENTIFIER_TERMS,
    count_terms,
    is_generated,
    split_identifier,
    weigh_terms,
)
from services.parser.records import Extraction


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("HTTPServer", ["http", "server"]),
        ("getHTTP2Server", ["get", "http", "server"]),
        ("parse_json_v2", ["parse", "json"]),
        ("__init__", ["init"]),
        ("MAX_RETRIES", ["max", "retries"]),
        ("$scope", ["scope"]),
        ("#privateField", ["private", "field"]),
        ("sha256sum", ["sha", "sum"]),
        ("x", []),
        ("i18n", []),
        ("größeWert", ["größe", "wert"]),
    ],
)
def test_split_identifier(name: str, tokens: list[str]) -> None:
    assert split_identifier(name) == tokens


def _tokens(extraction: Extraction) -> dict[str, int]:
    return dict(extraction.terms)


def test_python_identifiers_not_comments_strings_or_keywords() -> None:
    source = b'''import os.path
class HttpClient(BaseClient):
    """Docstring words stay out."""
    def send_request(self, url_path):  # comment words stay out
        return self.send_request(url_path, "string words") if True else None
'''
    assert _tokens(python_imports.extract("client.py", source)) == {
        "os": 1,
        "path": 3,
        "http": 1,
        "client": 2,
        "base": 1,
        "send": 2,
        "request": 2,
        "self": 2,
        "url": 2,
    }


def test_javascript_and_typescript_identifiers() -> None:
    js = (
        b"import { readFile } from 'fs';\n"
        b"const userName = obj.firstName; label: for (;;) { break label }\n"
    )
    assert _tokens(js_imports.extract("a.js", js)) == {
        "read": 1,
        "file": 1,
        "user": 1,
        "name": 2,
        "obj": 1,
        "first": 1,
        "label": 2,
    }
    ts = (
        b"interface UserRecord { userId: number }\n"
        b"class Repo { #cacheMap = new Map<string, UserRecord>() }\n"
    )
    assert _tokens(js_imports.extract("a.ts", ts)) == {
        "user": 3,
        "record": 2,
        "id": 1,
        "repo": 1,
        "cache": 1,
        "map": 2,
    }


def test_java_identifiers() -> None:
    source = (
        b"package com.acme.store;\nimport java.util.List;\npublic class OrderService {\n"
        b"  private List<Order> pendingOrders; // no comment words\n}\n"
    )
    assert _tokens(java_imports.extract("OrderService.java", source)) == {
        "com": 1,
        "acme": 1,
        "store": 1,
        "java": 1,
        "util": 1,
        "list": 2,
        "order": 2,
        "service": 1,
        "pending": 1,
        "orders": 1,
    }


def test_go_identifiers_come_from_the_whole_file() -> None:
    source = (
        b'package server\n\nimport "net/http"\n\n'
        b"type Handler struct{ routeTable map[string]int }\n\n"
        b"func (h *Handler) ServeHTTP(w http.ResponseWriter) { h.routeTable = nil }\n"
    )
    extraction = go_imports.extract("server.go", source)
    assert extraction.facts.imports == ("net/http",)
    assert _tokens(extraction) == {
        "server": 1,
        "handler": 2,
        "route": 2,
        "table": 2,
        "string": 1,
        "int": 1,
        "serve": 1,
        "http": 2,
        "response": 1,
        "writer": 1,
    }


@pytest.mark.parametrize(
    ("grammar", "source", "tokens"),
    [
        pytest.param(
            "python",
            b'x = f"{user.name!r:>10} text" + rb"raw\\" + u"\\"quoted\\"" + 0x1F + 1e10\n'
            b'"""doc \\""" still doc"""\nif"q": pass\n',
            {"user": 1, "name": 1},
            id="python-literals",
        ),
        pytest.param(
            "python",
            b'if "{a}": wait(f"{alpha}", rf"{beta}", "{gamma}")\nif"{delta}": pass',
            {"wait": 1, "alpha": 1, "beta": 1},
            id="python-only-f-strings-hold-code",
        ),
        pytest.param(
            "go",
            b'msg := fmt.Sprintf("{name}")',
            {"msg": 1, "fmt": 1, "sprintf": 1},
            id="go-braces-in-a-string",
        ),
        pytest.param(
            "javascript",
            b"f('{name}'); const t = `${userName} {plain}`;",
            {"user": 1, "name": 1},
            id="javascript-only-template-substitutions-hold-code",
        ),
        pytest.param(
            "python",
            b"def fetch(n):\n    # it's a comment\n    return n\n'''unterminated\nwords",
            {"fetch": 1},
            id="python-unterminated",
        ),
        pytest.param(
            "javascript",
            b"#!/usr/bin/env node\nconst total = count / size / 2; const re = /[\"'/]x/g;\n"
            b"router.delete(`/users/${userId}`); html`<p>${bodyText}</p>`;\n"
            b"for (const k of keys) {}",
            {
                "total": 1,
                "count": 1,
                "size": 1,
                "re": 1,
                "router": 1,
                "delete": 1,
                "user": 1,
                "id": 1,
                "html": 1,
                "body": 1,
                "text": 1,
                "keys": 1,
            },
            id="javascript-regex-template-dotted",
        ),
        pytest.param(
            "java",
            b'String s = """\n  text "block" words\n  """; char q = \'"\'; Class<?> k = Foo.class;'
            b" /* block */ var seen = 1;",
            {"string": 1, "class": 1, "foo": 1, "seen": 1, "var": 1},  # `Class`, not `.class`
            id="java-text-block-char-class-literal",
        ),
        pytest.param(
            "go",
            b'var pattern = `raw \\ "words"`\nr := \'"\' // comment\nx := nil',
            {"pattern": 1},
            id="go-raw-string-rune",
        ),
    ],
)
def test_comments_literals_numbers_and_reserved_words_are_not_names(
    grammar: str, source: bytes, tokens: dict[str, int]
) -> None:
    """Only code counts: interpolations do, string prefixes, numbers, comments and
    literals do not; a reserved word counts after a `.` in JavaScript."""
    assert dict(count_terms(grammar, "f", source)) == tokens


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("api/service_pb2.py", b"import grpc\n"),
        ("api/service_pb2_grpc.py", b"import grpc\n"),
        ("api/service.pb.go", b"package api\n"),
        ("static/app.min.js", b"var a=1;\n"),
        ("gen.go", b"// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage api\n"),
        ("gen.ts", b"/* @generated */\nexport const longName = 1;\n"),
        ("gen.py", b"# This file is autogenerated; edit the template instead.\nlong_name = 1\n"),
    ],
)
def test_generated_files_get_no_tokens(path: str, head: bytes) -> None:
    assert is_generated(path, head)
    extract = {
        "py": python_imports.extract,
        "go": go_imports.extract,
        "js": js_imports.extract,
        "ts": js_imports.extract,
    }[path.rpartition(".")[2]]
    assert extract(path, head).terms == ()


def test_a_marker_past_the_header_does_not_make_a_file_generated() -> None:
    source = b"x = 1\n" * 300 + b"# @generated\n"
    assert not is_generated("a.py", source)
    assert not is_generated("a.py", b"# handles code generated by users\n")


def test_tf_idf_a_rare_shared_token_outweighs_a_common_one() -> None:
    files = [
        (("common", 3), ("rare", 1), ("shared", 3)),
        (("common", 1), ("rare", 1), ("shared", 3)),
        (("common", 1), ("other", 2), ("shared", 3)),
        (("common", 1), ("other", 1), ("shared", 3)),
        (("other", 1), ("shared", 3)),
        (("shared", 1),),
        (),  # a generated or empty file
    ]
    weighted = weigh_terms(files)
    first = dict(weighted[0])
    assert "shared" not in first  # in every file with tokens: idf 0
    assert first["rare"] > first["common"]  # rarer, though written less often
    assert [token for token, _ in weighted[0]] == ["rare", "common"]  # strongest first
    # tf = 1 + ln(count), idf = ln((1 + N) / (1 + df)), N = 6 files with tokens
    rare, common = math.log(7 / 3), (1 + math.log(3)) * math.log(7 / 5)
    norm = math.hypot(rare, common)
    assert math.isclose(first["rare"], rare / norm) and math.isclose(first["common"], common / norm)
    for terms in weighted[:5]:
        assert math.isclose(sum(w * w for _, w in terms), 1.0)
    assert weighted[5] == () and weighted[6] == ()


def test_tf_idf_keeps_the_strongest_terms_ties_by_token() -> None:
    many = tuple((f"t{i:03d}", 1) for i in range(100))
    weighted = weigh_terms([many, (("zz", 1),)])
    assert len(weighted[0]) == IDENTIFIER_TERMS
    assert [t for t, _ in weighted[0]] == [f"t{i:03d}" for i in range(IDENTIFIER_TERMS)]


def test_graph_nodes_carry_weighted_terms(tmp_path: Path) -> None:
    graph = build(
        tmp_path,
        {
            "billing/invoice.py": "def render_invoice(invoice_total): return invoice_total\n",
            "billing/tax.py": "def invoice_tax(amount): return amount\n",
            "web/views.py": "def render_page(request): return request\n",
            "gen/api_pb2.py": "def invoice_stub(): pass\n",
        },
    )
    terms = {node.path: [(t.token, t.weight) for t in node.terms] for node in graph.nodes}
    assert terms["gen/api_pb2.py"] == []
    # "total" (one file) outweighs "invoice" (two files), though written less often
    assert [t for t, _ in terms["billing/invoice.py"]] == ["total", "invoice", "render"]
    assert {t for t, _ in terms["billing/tax.py"]} == {"invoice", "tax", "amount"}
    for path in ("billing/invoice.py", "billing/tax.py", "web/views.py"):
        weights = [w for _, w in terms[path]]
        assert weights == sorted(weights, reverse=True)
        assert math.isclose(sum(w * w for w in weights), 1.0, rel_tol=1e-6)


def test_cached_extractions_keep_their_terms() -> None:
    extraction = python_imports.extract("a.py", b"import os\nclass FooBar: pass\n")
    assert extraction.terms
    assert _loads(pickle.dumps(extraction, protocol=5)) == extraction


def test_a_changed_identifier_module_invalidates_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_module.fingerprint.cache_clear()
    before = cache_module.fingerprint("services.parser.python_imports")
    module = sys.modules["services.parser.identifiers"]
    changed = tmp_path / "identifiers.py"
    changed.write_bytes(Path(module.__file__ or "").read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(module, "__file__", str(changed))
    cache_module.fingerprint.cache_clear()
    try:
        assert cache_module.fingerprint("services.parser.python_imports") != before
    finally:
        cache_module.fingerprint.cache_clear()
