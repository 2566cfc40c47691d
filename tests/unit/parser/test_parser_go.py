"""Go: extraction (package, imports, `ignore` constraints) and resolution through build_graph."""

from __future__ import annotations

import itertools
import json
import os
import pickle
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from parser_helpers import Files, unresolved_paths, write_tree
from parser_helpers import build as graph
from parser_helpers import import_edges as links

from services.parser import go_imports
from services.parser.go_imports import GoFile, build_ignored, extract
from services.parser.graph import build_graph

MOD = "module example.com/app\n\ngo 1.21\n"


def facts(source: str | bytes) -> GoFile:
    data = source.encode() if isinstance(source, str) else source
    result = extract("x.go", data).facts
    assert isinstance(result, GoFile)
    return result


def go_file(package: str, *imports: str, header: str = "") -> str:
    quoted = (s if " " in s or s[:1] == "`" else f'"{s}"' for s in imports)
    block = "".join(f"\t{spec}\n" for spec in quoted)
    return f"{header}package {package}\n\nimport (\n{block})\n\nfunc f() {{}}\n"


# --- extraction ---------------------------------------------------------------


def test_every_import_form_in_source_order() -> None:
    source = """// Package p.
package p // import "example.com/p"

import "fmt"
import alias "example.com/a"

import (
\t. "example.com/dot"
\t_ "example.com/blank" // side effects
\t`example.com/raw`
\t/* comment */ "example.com/b"
)

func main() {}
"""
    assert facts(source) == GoFile(
        "p",
        (
            "fmt",
            "example.com/a",
            "example.com/dot",
            "example.com/blank",
            "example.com/raw",
            "example.com/b",
        ),
        import_comment="example.com/p",
    )


def test_cgo_pseudo_package_is_left_out() -> None:
    source = '/*\n#include <stdio.h>\nconst int answer = 42;\n*/\n\npackage p\n\nimport "C"\n'
    assert facts(source) == GoFile("p", ())
    assert facts('package p\n\n/*\nconst int n = 1;\n*/\nimport "C"\nimport "os"\n').imports == (
        "os",
    )


@pytest.mark.parametrize(
    ("clause", "comment"),
    [
        ('package x // import "example.com/x"\n', "example.com/x"),
        ('package x /* import "example.com/x" */\r\n', "example.com/x"),
        ("package x\t// import `example.com/x`\n", "example.com/x"),
        ('package x\n// import "example.com/x"\n', ""),
        ('package x; // import "example.com/x"\n', ""),
        ('package x // import "example.com/x" and more\n', ""),
        ('package x // importer "example.com/x"\n', ""),
        ('package x /* import "example.com/x"\n*/\n', ""),
    ],
)
def test_canonical_import_comment(clause: str, comment: str) -> None:
    assert facts(clause + 'import "os"\n') == GoFile("x", ("os",), import_comment=comment)


def test_file_without_package_clause_or_imports() -> None:
    assert facts("") == GoFile("", ())
    assert facts("// just a comment\n") == GoFile("", ())
    assert facts("package main\n\nfunc main() {}\n") == GoFile("main", ())


def test_syntax_error_in_imports_keeps_what_was_recognised() -> None:
    result = extract("x.go", b'package p\n\nimport (\n\t"os"\n\t"fmt" +\n)\n\nfunc f() {}\n')
    assert result.facts == GoFile("p", ("os", "fmt"))
    assert result.error == "syntax error near line 5; imports found were kept"
    missing = extract("x.go", b'package p\n\nimport (\n\t"os"\n')
    assert missing.facts == GoFile("p", ("os",))
    assert missing.error == "syntax error (missing token); imports found were kept"


def test_syntax_error_past_the_imports_is_not_parsed() -> None:
    # Documented trade-off of parsing only the import section: facts are exact, no note.
    result = extract("x.go", b'package p\n\nimport "os"\n\nfunc f() { if }\n')
    assert result == extract("x.go", b'package p\n\nimport "os"\n')


def test_hostile_bytes_never_crash() -> None:
    for source in (b"\xff\xfe\x00package \xff\n", b"import " * 10_000, b"(" * 5_000):
        assert isinstance(extract("x.go", source).facts, GoFile)
    assert build_ignored(b"//go:build " + b"(" * 5000 + b"ignore" + b")" * 5000) is False
    assert build_ignored(b"/**/" * 200_000 + b"\n\npackage p\n") is False  # linear, not quadratic


def test_facts_pickle() -> None:
    value = facts(go_file("p", "os", header="//go:build ignore\n\n"))
    assert pickle.loads(pickle.dumps(value)) == value
    assert value.ignored


@pytest.mark.parametrize(
    ("header", "ignored"),
    [
        ("//go:build ignore\n\n", True),
        ("//go:build ignore\n", True),
        ("// +build ignore\n\n", True),
        ("//+build ignore\n\n", True),
        ("// Copyright 2024.\n\n//go:build ignore\n\n", True),
        ("/* c */\n//go:build ignore\n\n", True),
        ("\ufeff//go:build ignore\n\n", True),
        ("//go:build ignore\r\n\r\n", True),
        ("//go:build ignore && linux\n\n", True),
        ("//go:build (ignore || ignore) && !windows\n\n", True),
        ("// +build ignore,linux\n\n", True),
        ("// +build linux\n// +build ignore\n\n", True),
        ("// +build\n\n", True),
        ("// +build !!linux\n\n", True),
        ("// +build ignore\n\n/* c */\n", True),
        ("// +build ignore\n", False),
        ("// +build ignore\n/* c */\n\n", False),
        ("/*\n//go:build ignore\n*/\n\n", False),
        ("//go:build linux\n// +build ignore\n\n", False),
        ("//go:build !ignore\n\n", False),
        ("//go:build ignore || linux\n\n", False),
        ("// +build ignore linux\n\n", False),
        ("//go:build windows\n\n", False),
        ("//go:build tools\n\n", False),
        ("//go:buildignore\n\n", False),
        ("//go:build ignore &&\n\n", False),
        ("//go:build !!ignore\n\n", False),
        ("", False),
    ],
)
def test_build_constraint_excludes_from_every_build(header: str, ignored: bool) -> None:
    assert facts(f'{header}package p\n\nimport "os"\n').ignored is ignored


def test_constraint_after_package_clause_does_not_count() -> None:
    assert not facts('package p\n\n//go:build ignore\n\nimport "os"\n').ignored


def _realistic_corpus() -> list[bytes]:
    """Go files built from the constructs that could trip a prefix parse."""
    headers = [
        "",
        "// Copyright 2024 The Authors.\n// License: BSD.\n\n//go:build linux\n\n",
        "/*\nfunc inComment() {}\nconst c = 1\n*/\n\n",
        "// Package p does things.\n//\n//\tfunc Example() {}\n",
    ]
    packages = ["package p\n", 'package p // import "example.com/p"\n', "package main;"]
    imports = [
        "",
        'import "fmt"\n',
        'import (\n\t"fmt"\n\tio "io"\n\t. "strings"\n\t_ "embed"\n)\n',
        'import (\n\t"os" /* func */\n\t`raw/path`\n)\nimport "x.y/z"\n',
        '/*\n#include <stdlib.h>\nconst char *hi = "hi";\nvar x;\n*/\nimport "C"\nimport "os"\n',
        'import (\n\t// func commented()\n\t"a.b/c"\n)\n',
    ]
    bodies = [
        "\nfunc main() {}\n",
        '\ntype T struct{}\n\nvar s = `\nimport "not/an/import"\n`\n\nconst k = 1\n',
        '\nvar (\n\tx = 1\n)\n\nfunc (T) M() { import_ := "x"; _ = import_ }\n',
        "",
    ]
    return [
        "".join(parts).encode() for parts in itertools.product(headers, packages, imports, bodies)
    ]


def _assert_prefix_parse_matches_full_parse(
    sources: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = [extract("x.go", source) for source in sources]
    monkeypatch.setattr(go_imports, "_FIRST_DECLARATION", re.compile(rb"(?!)"))
    full = [extract("x.go", source) for source in sources]
    assert [e.facts for e in prefix] == [e.facts for e in full]


def test_prefix_parse_matches_full_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = _realistic_corpus()
    assert len(corpus) == 288
    extractions = [extract("x.go", source) for source in corpus]
    assert all(e.error is None for e in extractions)
    assert {e.facts.package for e in extractions} == {"p", "main"}
    _assert_prefix_parse_matches_full_parse(corpus, monkeypatch)


def _goroot_sources(limit: int) -> list[bytes]:
    """Up to `limit` files spread over the Go distribution's own sources."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("`go` is not on PATH: no Go source tree to compare against")
    env = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True)
    src = Path(env.stdout.strip() or "/nonexistent", "src")
    if env.returncode or not src.is_dir():
        pytest.skip(f"`go env GOROOT` names no source tree: {env.stderr.strip()}")
    files = sorted(path for path in src.rglob("*.go") if path.is_file())
    step = max(1, len(files) // limit)
    return [path.read_bytes() for path in files[::step][:limit]]


def test_prefix_parse_matches_full_parse_on_the_go_source_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _assert_prefix_parse_matches_full_parse(_goroot_sources(300), monkeypatch)


# --- resolution -----------------------------------------------------------------


def test_single_module_packages_resolve_to_their_directory_files(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "main.go": go_file("main", "example.com/app/pkg/api", "example.com/app/pkg"),
            "pkg/api/api.go": go_file("api", "example.com/app/internal/store"),
            "pkg/api/routes.go": go_file("api"),
            "pkg/api/v2/v2.go": go_file("v2"),
            "internal/store/store.go": go_file("store"),
        },
    )
    assert links(built) == {
        ("main.go", "pkg/api/api.go"),
        ("main.go", "pkg/api/routes.go"),
        ("pkg/api/api.go", "internal/store/store.go"),
    }
    assert unresolved_paths(built) == {("main.go", "example.com/app/pkg")}


def test_aliased_dot_blank_and_raw_imports_all_resolve(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": 'module "example.com/app" // quoted, with a comment\n',
            "main.go": go_file(
                "main",
                'a "example.com/app/a"',
                '. "example.com/app/b"',
                '_ "example.com/app/c"',
                "`example.com/app/d`",
            ),
            **{f"{name}/{name}.go": go_file(name) for name in "abcd"},
        },
    )
    assert links(built) == {("main.go", f"{name}/{name}.go") for name in "abcd"}


def test_stdlib_third_party_vendored_and_relative_imports_stay_unresolved(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD + "\nrequire github.com/x/y v1.0.0\n",
            "main.go": go_file(
                "main", "fmt", "net/http", "github.com/x/y", "./local", "example.com/app/local"
            ),
            "local/local.go": go_file("local"),
            "vendor/github.com/x/y/y.go": go_file("y"),
        },
    )
    assert [node.path for node in built.nodes] == ["local/local.go", "main.go"]
    assert links(built) == {("main.go", "local/local.go")}
    assert unresolved_paths(built) == {
        ("main.go", "fmt"),
        ("main.go", "net/http"),
        ("main.go", "github.com/x/y"),
        ("main.go", "./local"),
    }


def test_malformed_import_paths_stay_unresolved(tmp_path: Path) -> None:
    odd = [
        "example.com/app/../app/x",
        "example.com/app//x",
        "example.com/app/x/",
        "example.com/app/./x",
        "",
        "/abs",
        "example.com/app/" + "d/" * 500 + "x",
    ]
    built = graph(
        tmp_path, {"go.mod": MOD, "main.go": go_file("main", *odd), "x/x.go": go_file("x")}
    )
    assert links(built) == set()
    assert {spec for _, spec in unresolved_paths(built)} == {spec[:1024] for spec in odd}


def test_nested_module_owns_its_directory_tree(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "main.go": go_file("main", "example.com/app/tools/lint", "example.com/tools/lint"),
            "tools/go.mod": "module example.com/tools\n",
            "tools/lint/lint.go": go_file("lint", "example.com/tools/internal/rules"),
            "tools/internal/rules/rules.go": go_file("rules", "example.com/app/lib"),
            "lib/lib.go": go_file("lib"),
        },
    )
    assert links(built) == {
        ("main.go", "tools/lint/lint.go"),
        ("tools/lint/lint.go", "tools/internal/rules/rules.go"),
        ("tools/internal/rules/rules.go", "lib/lib.go"),
    }
    assert unresolved_paths(built) == {("main.go", "example.com/app/tools/lint")}


def test_nested_module_under_the_parent_path_takes_the_longest_prefix(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "main.go": go_file("main", "example.com/app/sdk/client", "example.com/app/sdk"),
            "sdk/go.mod": "module example.com/app/sdk\n",
            "sdk/client/client.go": go_file("client"),
        },
    )
    assert links(built) == {("main.go", "sdk/client/client.go")}
    assert unresolved_paths(built) == {("main.go", "example.com/app/sdk")}


def test_replace_with_local_paths(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "app/go.mod": (
                "module example.com/app\n\n"
                "replace example.com/lib v1.2.0 => ../lib // local checkout\n"
                "replace (\n"
                "\texample.com/util => ./third/util\n"
                "\texample.com/remote => example.com/fork v1.0.0\n"
                "\texample.com/outside => ../../elsewhere\n"
                ")\n"
            ),
            "app/main.go": go_file(
                "main",
                "example.com/lib/parse",
                "example.com/util",
                "example.com/remote",
                "example.com/outside",
            ),
            "app/third/util/go.mod": "module github.com/someone/util\n",
            "app/third/util/util.go": go_file("util"),
            "lib/go.mod": "module example.com/lib\n",
            "lib/parse/parse.go": go_file("parse"),
        },
    )
    assert links(built) == {
        ("app/main.go", "lib/parse/parse.go"),
        ("app/main.go", "app/third/util/util.go"),
    }
    assert unresolved_paths(built) == {
        ("app/main.go", "example.com/remote"),
        ("app/main.go", "example.com/outside"),
    }


def test_go_work_modules_import_each_other(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.work": "go 1.21\n\nuse (\n\t./api\n\t./worker\n)\n\nreplace example.com/x => ./x\n",
            "api/go.mod": "module example.com/api\n",
            "api/types/types.go": go_file("types"),
            "worker/go.mod": "module example.com/worker\n",
            "worker/main.go": go_file("main", "example.com/api/types", "example.com/x"),
            "x/go.mod": "module github.com/fork/x\n",
            "x/x.go": go_file("x"),
        },
    )
    assert links(built) == {("worker/main.go", "api/types/types.go"), ("worker/main.go", "x/x.go")}


def test_duplicate_module_paths_prefer_the_importers_own_module(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "main.go": go_file("main", "example.com/app/util"),
            "util/util.go": go_file("util"),
            "examples/copy/go.mod": MOD,
            "examples/copy/main.go": go_file("main", "example.com/app/util"),
            "examples/copy/util/util.go": go_file("util"),
            "other/go.mod": "module example.com/other\n",
            "other/main.go": go_file("main", "example.com/app/util"),
        },
    )
    assert links(built) == {
        ("main.go", "util/util.go"),
        ("examples/copy/main.go", "examples/copy/util/util.go"),
        ("other/main.go", "util/util.go"),
    }


def test_test_files_and_external_test_packages(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "calc/calc.go": go_file("calc"),
            "calc/calc_test.go": go_file("calc", "testing", "example.com/app/fixtures"),
            "calc/example_test.go": go_file("calc_test", "example.com/app/calc"),
            "fixtures/fixtures.go": go_file("fixtures"),
            "main.go": go_file("main", "example.com/app/calc"),
        },
    )
    assert links(built) == {
        ("calc/calc_test.go", "fixtures/fixtures.go"),
        ("calc/example_test.go", "calc/calc.go"),
        ("main.go", "calc/calc.go"),
    }
    assert unresolved_paths(built) == {("calc/calc_test.go", "testing")}


def test_directory_with_only_test_files_is_unresolved(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "e2e/e2e_test.go": go_file("e2e", "example.com/app/core"),
            "core/core.go": go_file("core"),
            "main.go": go_file("main", "example.com/app/e2e", "example.com/app/empty"),
            "empty/README.md": "nothing\n",
        },
    )
    assert links(built) == {("e2e/e2e_test.go", "core/core.go")}
    assert unresolved_paths(built) == {
        ("main.go", "example.com/app/e2e"),
        ("main.go", "example.com/app/empty"),
    }


def test_ignored_files_are_nodes_but_never_targets(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "tables/tables.go": go_file("tables"),
            "tables/gen.go": go_file(
                "main", "example.com/app/tables", header="//go:build ignore\n\n"
            ),
            "tables/old_gen.go": go_file("main", "os", header="// +build ignore\n\n"),
            "main.go": go_file("main", "example.com/app/tables"),
        },
    )
    assert {node.path for node in built.nodes} >= {"tables/gen.go", "tables/old_gen.go"}
    assert links(built) == {("tables/gen.go", "tables/tables.go"), ("main.go", "tables/tables.go")}
    assert unresolved_paths(built) == {("tables/old_gen.go", "os")}


def test_platform_specific_files_are_included(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "sys/sys_linux.go": go_file("sys"),
            "sys/sys_windows_amd64.go": go_file("sys"),
            "sys/sys_plan9.go": go_file("sys", header="//go:build plan9 && !cgo\n\n"),
            "sys/sys_tools.go": go_file("sys", header="// +build tools\n\n"),
            "main.go": go_file("main", "example.com/app/sys"),
        },
    )
    assert links(built) == {
        ("main.go", f"sys/{name}")
        for name in ("sys_linux.go", "sys_windows_amd64.go", "sys_plan9.go", "sys_tools.go")
    }


def test_files_outside_the_directory_package_are_not_targets(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "lib/a.go": go_file("lib"),
            "lib/b.go": go_file("lib"),
            "lib/stray.go": go_file("other"),
            "lib/doc.go": "// Package lib.\npackage documentation\n",
            "lib/_scratch.go": go_file("lib"),
            "lib/.hidden.go": go_file("lib"),
            "lib/broken.go": "// no package clause\n",
            "tie/b.go": go_file("beta"),
            "tie/a.go": go_file("alpha"),
            "docs/doc.go": "package documentation\n",
            "main.go": go_file("main", *(f"example.com/app/{d}" for d in ("lib", "tie", "docs"))),
        },
    )
    assert links(built) == {
        ("main.go", "lib/a.go"),
        ("main.go", "lib/b.go"),
        ("main.go", "tie/a.go"),
    }
    assert unresolved_paths(built) == {("main.go", "example.com/app/docs")}


def test_main_packages_under_cmd(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "go.mod": MOD,
            "cmd/server/main.go": go_file("main", "example.com/app/internal/server", "flag"),
            "cmd/server/flags.go": go_file("main"),
            "cmd/cli/main.go": go_file("main", "example.com/app/internal/server"),
            "internal/server/server.go": go_file("server"),
        },
    )
    assert links(built) == {
        ("cmd/server/main.go", "internal/server/server.go"),
        ("cmd/cli/main.go", "internal/server/server.go"),
    }
    assert unresolved_paths(built) == {("cmd/server/main.go", "flag")}


def test_without_go_mod_import_comments_place_the_repository(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "cmd/tool/main.go": go_file(
                "main", "github.com/old/project/util", "github.com/old/project"
            ),
            "lib.go": 'package project // import "github.com/old/project"\n',
            "util/util.go": 'package util // import "github.com/old/project/util"\n',
            "util/more.go": "package util\n",
            "misc/misc.go": 'package misc // import "example.com/elsewhere"\n',
        },
    )
    tool = "cmd/tool/main.go"
    assert links(built) == {(tool, "util/util.go"), (tool, "util/more.go"), (tool, "lib.go")}


def test_without_go_mod_imports_stay_unresolved(tmp_path: Path) -> None:
    built = graph(
        tmp_path,
        {
            "main.go": go_file("main", "github.com/old/project/util"),
            "util/util.go": go_file("util"),
        },
    )
    assert links(built) == set()
    assert unresolved_paths(built) == {("main.go", "github.com/old/project/util")}


@pytest.mark.parametrize(
    ("go_mod", "resolves"),
    [
        (b"", False),
        (b"\x00\xff\xfe garbage \x00", False),
        (b"go 1.21\n", False),
        (b"module\n", False),
        (b"module example.com/app\n" + b"// padding\n" * 120_000, False),
        (b"replace (\nexample.com/app => ./\n", True),
        (b"module example.com/app\nreplace example.com/app => ../../../etc\n", True),
        (b"module example.com/app\nreplace => ./x\nreplace x =>\nreplace (\n)\n)\n", True),
        (b"module example.com/app\nrequire " + b'"\\' * 300_000 + b"\n", True),
    ],
)
def test_malformed_go_mod_never_crashes(tmp_path: Path, go_mod: bytes, resolves: bool) -> None:
    built = graph(
        tmp_path,
        {"go.mod": go_mod, "main.go": go_file("main", "example.com/app/x"), "x/x.go": go_file("x")},
    )
    assert links(built) == ({("main.go", "x/x.go")} if resolves else set())
    assert unresolved_paths(built) == (set() if resolves else {("main.go", "example.com/app/x")})


def test_committed_repository(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "go.mod": MOD,
            "main.go": go_file("main", "example.com/app/pkg"),
            "pkg/pkg.go": go_file("pkg"),
        }
    )
    assert links(build_graph(repo)) == {("main.go", "pkg/pkg.go")}


# --- oracle: the go tool itself -------------------------------------------------------

ORACLE_TREE: Files = {
    "go.work": "go 1.19\n\nuse (\n\t.\n\t./tools\n)\n",
    "go.mod": "module example.com/app\n\ngo 1.19\n",
    "main.go": go_file(
        "main",
        "fmt",
        "example.com/app/internal/util",
        'api "example.com/app/pkg/api"',
        '_ "example.com/app/pkg/plugin"',
        '. "strings"',
        "example.com/tools/gen",
    ),
    "internal/util/util.go": go_file("util", "os"),
    "internal/util/more.go": go_file("util"),
    "internal/util/gen.go": go_file(
        "main", "example.com/app/internal/util", header="//go:build ignore\n\n"
    ),
    "pkg/api/api.go": go_file("api", "example.com/app/internal/util", "github.com/third/party"),
    "pkg/api/api_test.go": go_file("api", "testing", "example.com/app/pkg/plugin"),
    "pkg/api/api_x_test.go": go_file("api_test", "testing", "example.com/app/pkg/api"),
    "pkg/plugin/plugin.go": go_file("plugin"),
    "pkg/plugin/doc.go": "package documentation\n",
    "tools/go.mod": "module example.com/tools\n\ngo 1.19\n",
    "tools/gen/gen.go": go_file("gen", '_ "example.com/app/pkg/plugin"'),
}


def _go_list(root: Path) -> list[dict[str, Any]]:
    go = shutil.which("go")
    if go is None:
        pytest.skip("`go` is not on PATH: cannot compare with `go list`")
    scratch = root.parent / "go-scratch"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(scratch),
        "GOCACHE": str(scratch / "cache"),
        "GOPATH": str(scratch / "gopath"),
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
    }
    listing = subprocess.run(
        [go, "list", "-e", "-json", "./...", "./tools/..."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Top-level objects, and only they, open and close at the start of a line.
    packages: list[dict[str, Any]] = json.loads(
        "[" + listing.strip().replace("\n}\n{", "\n},\n{") + "]"
    )
    return packages


def test_matches_go_list(tmp_path: Path) -> None:
    """Per package and per file set (GoFiles, TestGoFiles, XTestGoFiles), the files its
    edges reach are the GoFiles of the packages `go list` says it imports from the
    repository, and its unresolved imports are the others."""
    root = write_tree(tmp_path / "repo", ORACLE_TREE)
    packages = _go_list(root)
    built = build_graph(root)
    edges, unresolved = links(built), unresolved_paths(built)

    def rel(package: dict[str, Any], name: str) -> str:
        directory = Path(package["Dir"]).resolve().relative_to(root.resolve()).as_posix()
        return name if directory == "." else f"{directory}/{name}"

    files_of = {p["ImportPath"]: {rel(p, f) for f in p["GoFiles"]} for p in packages}
    checked = 0
    for package, (files, imports) in itertools.product(
        packages,
        [("GoFiles", "Imports"), ("TestGoFiles", "TestImports"), ("XTestGoFiles", "XTestImports")],
    ):
        sources = {rel(package, name) for name in package.get(files, [])}
        imported = package.get(imports, [])
        local = [files_of[i] for i in imported if i in files_of]
        assert {t for s, t in edges if s in sources} == set().union(*local), package["ImportPath"]
        assert {spec for s, spec in unresolved if s in sources} == {
            i for i in imported if i not in files_of
        }, package["ImportPath"]
        checked += len(sources)
    assert checked == 8
