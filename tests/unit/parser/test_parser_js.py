"""JavaScript/TypeScript imports: extraction from source, and resolution through build_graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from parser_helpers import Files, edge_paths, unresolved_paths, write_tree
from tree_sitter import Node

from neo_alexandria.v1 import graph_pb2
from services.parser import js_imports
from services.parser.graph import build_graph
from services.parser.js_imports import JsImport, extract
from services.parser.plugins import PLUGINS
from services.parser.records import MAX_SPECIFIER, RepoIndex
from services.parser.resolve_js import resolve
from services.parser.treesitter import parse, run_matches

IMPORT = graph_pb2.EDGE_KIND_IMPORT
REEXPORT = graph_pb2.EDGE_KIND_REEXPORT
REQUIRE = graph_pb2.EDGE_KIND_REQUIRE
DYNAMIC = graph_pb2.EDGE_KIND_DYNAMIC
TYPE_ONLY = graph_pb2.EDGE_KIND_TYPE_ONLY

Edges = set[tuple[str, str, int]]
Unresolved = set[tuple[str, str]]


def facts(source: str | bytes, path: str = "m.ts") -> list[tuple[str, int]]:
    data = source.encode() if isinstance(source, str) else source
    return [(f.specifier, f.kind) for f in extract(path, data).facts]


def graph_of(root: Path, files: Files) -> tuple[Edges, Unresolved]:
    graph = build_graph(write_tree(root, files))
    return edge_paths(graph), unresolved_paths(graph)


def edges_of(root: Path, files: Files) -> Edges:
    return graph_of(root, files)[0]


def package(**fields: object) -> str:
    return json.dumps(fields)


def tsconfig(**compiler_options: object) -> str:
    return json.dumps({"compilerOptions": compiler_options})


# -- extraction ------------------------------------------------------------------------


def test_static_imports_and_side_effect_imports() -> None:
    source = """
import a from "./a";
import * as b from './b';
import { c, d as e } from "./c";
import f, { g } from "./f";
import "./side-effect";
import json from "./data.json" with { type: "json" };
"""
    assert facts(source, "m.js") == [
        ("./a", IMPORT),
        ("./b", IMPORT),
        ("./c", IMPORT),
        ("./f", IMPORT),
        ("./side-effect", IMPORT),
        ("./data.json", IMPORT),
    ]


def test_reexports() -> None:
    source = """
export * from "./all";
export * as ns from "./ns";
export { x, y as z } from "./named";
export { default } from "./default";
export const local = 1;
export { local as other };
"""
    assert facts(source, "m.js") == [
        ("./all", REEXPORT),
        ("./ns", REEXPORT),
        ("./named", REEXPORT),
        ("./default", REEXPORT),
    ]


def test_commonjs_require_takes_literal_single_arguments_only() -> None:
    source = """
const a = require("./a");
const { b } = require('./b');
module.exports = require(`./c`);
require(name);
require(`./d/${name}`);
require("./two", "args");
loader.require("./method");
function f() { return require("./inner"); }
"""
    assert facts(source, "m.cjs") == [
        ("./a", REQUIRE),
        ("./b", REQUIRE),
        ("./c", REQUIRE),
        ("./inner", REQUIRE),
    ]


def test_dynamic_import() -> None:
    source = """
const a = await import("./a");
const b = () => import(`./b`);
import("./c", { with: { type: "json" } });
import(name);
import(`./d/${name}`);
"""
    assert facts(source, "m.mjs") == [("./a", DYNAMIC), ("./b", DYNAMIC), ("./c", DYNAMIC)]


def test_type_only_imports_and_exports() -> None:
    source = """
import type { A } from "./type-import";
import type * as NS from "./type-namespace";
import { type B, type C } from "./all-typed";
import { type D, E } from "./mixed";
import F, { type G } from "./default-and-type";
import type from "./default-named-type";
export type { H } from "./type-export";
export { type I } from "./typed-specifier-export";
export { type J, K } from "./mixed-export";
"""
    assert facts(source) == [
        ("./type-import", TYPE_ONLY),
        ("./type-namespace", TYPE_ONLY),
        ("./all-typed", TYPE_ONLY),
        ("./mixed", IMPORT),
        ("./default-and-type", IMPORT),
        ("./default-named-type", IMPORT),
        ("./type-export", TYPE_ONLY),
        ("./typed-specifier-export", TYPE_ONLY),
        ("./mixed-export", REEXPORT),
    ]


def test_export_type_star_is_type_only_despite_the_grammar_error() -> None:
    result = extract("m.ts", b'export type * from "./types";\n')
    assert result.facts == (JsImport("./types", TYPE_ONLY),)


def test_typescript_import_equals_require() -> None:
    source = 'import fs = require("./fs");\nimport type T = require("./types");\n'
    assert facts(source) == [("./fs", REQUIRE), ("./types", TYPE_ONLY)]


def test_import_in_a_type_position_is_type_only() -> None:
    source = """
let a: typeof import("./query");
type B = import("./alias").B;
interface C { c: import("./member").C }
function f<T = import("./default")>(): Promise<typeof import("./generic")> {
  return import("./runtime");
}
const g = value as import("./cast").G;
const h = (x: typeof import("./param")) => import("./arrow");
"""
    assert facts(source) == [
        ("./query", TYPE_ONLY),
        ("./alias", TYPE_ONLY),
        ("./member", TYPE_ONLY),
        ("./default", TYPE_ONLY),
        ("./generic", TYPE_ONLY),
        ("./runtime", DYNAMIC),
        ("./cast", TYPE_ONLY),
        ("./param", TYPE_ONLY),
        ("./arrow", DYNAMIC),
    ]


def test_grammar_follows_the_extension() -> None:
    jsx = 'import React from "react";\nexport const A = () => <div className="x" />;\n'
    tsx = 'import type { P } from "./p";\nexport const B = (p: P) => <span>{p.x}</span>;\n'
    assert extract("a.jsx", jsx.encode()) == extract("a.js", jsx.encode())
    assert extract("a.jsx", jsx.encode()).error is None
    assert extract("b.tsx", tsx.encode()).facts == (JsImport("./p", TYPE_ONLY),)
    assert extract("b.tsx", tsx.encode()).error is None
    assert extract("b.ts", tsx.encode()).error is not None  # JSX is not TypeScript
    for path in ("c.mts", "c.cts", "C.TS"):
        assert extract(path, b'import type { X } from "./x";\n').facts == (
            JsImport("./x", TYPE_ONLY),
        )


def test_facts_are_in_source_order_and_each_once() -> None:
    source = 'require("./b");\nimport a from "./a";\nimport "./a";\nexport * from "./a";\n'
    assert facts(source, "m.js") == [("./b", REQUIRE), ("./a", IMPORT), ("./a", REEXPORT)]


def test_file_without_imports() -> None:
    result = extract("m.js", b"export const x = 1;\n")
    assert result.facts == ()
    assert result.error is None


def test_syntax_error_keeps_imports_and_notes_the_line() -> None:
    result = extract("m.ts", b'import a from "./a";\nconst = = ;\nimport b from "./b";\n')
    assert [f.specifier for f in result.facts] == ["./a", "./b"]
    assert result.error == "syntax error near line 2; imports found were kept"


def test_odd_bytes_and_huge_specifiers_are_cut() -> None:
    huge = "./" + "a" * 100_000
    source = f'import x from "{huge}";\nimport "./nul\0byte";\n'.encode() + b'import "./\xff";\n'
    found = facts(source, "m.js")
    assert found[0] == (huge[: MAX_SPECIFIER + 1], IMPORT)
    assert found[1:] == [("./nul\0byte", IMPORT), ("./\ufffd", IMPORT)]


# -- relative resolution ---------------------------------------------------------------


def test_every_kind_resolves_relative_files(tmp_path: Path) -> None:
    source = """
import a from "./a";
export * from "./b";
const c = require("./c");
const d = import("./d");
import type { E } from "./e";
import f = require("./f");
"""
    files = {"main.ts": source, **{f"{n}.ts": "" for n in "abcdef"}}
    assert edges_of(tmp_path, files) == {
        ("main.ts", "a.ts", IMPORT),
        ("main.ts", "b.ts", REEXPORT),
        ("main.ts", "c.ts", REQUIRE),
        ("main.ts", "d.ts", DYNAMIC),
        ("main.ts", "e.ts", TYPE_ONLY),
        ("main.ts", "f.ts", REQUIRE),
    }


def test_strongest_kind_wins_per_pair(tmp_path: Path) -> None:
    files = {
        "main.ts": 'import type { T } from "./a";\nimport("./a");\nimport { v } from "./a";\n',
        "types.ts": 'import type { T } from "./a";\nexport * from "./a";\n',
        "a.ts": "",
    }
    assert edges_of(tmp_path, files) == {
        ("main.ts", "a.ts", IMPORT),
        ("types.ts", "a.ts", REEXPORT),
    }


def test_extension_and_index_probing(tmp_path: Path) -> None:
    files = {
        "src/main.js": (
            'import "./util";\nimport "./comp";\nimport "./lib";\nimport "../top";\n'
            'import "./lib/";\nimport "./exact.js";\nimport "./decl";\n'
        ),
        "src/util.ts": "",
        "src/comp.jsx": "",
        "src/lib/index.mjs": 'import "..";\nimport ".";\nimport "./helpers";\n',
        "src/lib/helpers.cts": "",
        "src/index.tsx": "",
        "src/exact.js": "",
        "src/decl.d.ts": "",
        "top.cjs": "",
    }
    assert edges_of(tmp_path, files) == {
        ("src/main.js", "src/util.ts", IMPORT),
        ("src/main.js", "src/comp.jsx", IMPORT),
        ("src/main.js", "src/lib/index.mjs", IMPORT),
        ("src/main.js", "top.cjs", IMPORT),
        ("src/main.js", "src/exact.js", IMPORT),
        ("src/main.js", "src/decl.d.ts", IMPORT),
        ("src/lib/index.mjs", "src/index.tsx", IMPORT),
        ("src/lib/index.mjs", "src/lib/helpers.cts", IMPORT),
    }


def test_probe_order_depends_on_the_importer(tmp_path: Path) -> None:
    files = {
        "a.ts": 'import "./both";\nimport "./typed";\n',
        "b.js": 'require("./both");\nrequire("./typed");\n',
        "both.ts": "",
        "both.js": "",
        "typed.d.ts": "",
        "typed.js": "",
    }
    assert edges_of(tmp_path, files) == {
        ("a.ts", "both.ts", IMPORT),
        ("a.ts", "typed.d.ts", IMPORT),
        ("b.js", "both.js", REQUIRE),
        ("b.js", "typed.js", REQUIRE),
    }


def test_js_extension_names_the_typescript_source(tmp_path: Path) -> None:
    files = {
        "main.ts": (
            'import "./util.js";\nimport "./view.jsx";\nimport "./esm.mjs";\nimport "./cjs.cjs";\n'
            'import "./built.js";\nimport "./types.js";\n'
        ),
        "util.ts": "",
        "view.tsx": "",
        "esm.mts": "",
        "cjs.cts": "",
        "built.js": "",
        "built.ts": "",
        "types.d.ts": "",
    }
    assert edges_of(tmp_path, files) == {
        ("main.ts", "util.ts", IMPORT),
        ("main.ts", "view.tsx", IMPORT),
        ("main.ts", "esm.mts", IMPORT),
        ("main.ts", "cjs.cts", IMPORT),
        ("main.ts", "built.js", IMPORT),  # an existing file is taken as written
        ("main.ts", "types.d.ts", IMPORT),
    }


def test_directory_package_json_entry(tmp_path: Path) -> None:
    files = {
        "app.ts": 'import "./typed";\nimport "./plain";\nimport "./broken";\nimport "./built";\n',
        "app.js": 'require("./typed");\n',
        "typed/package.json": package(main="./main.js", types="./types.d.ts"),
        "typed/main.js": "",
        "typed/types.d.ts": "",
        "plain/package.json": package(main="lib/entry"),
        "plain/lib/entry.js": "",
        "broken/package.json": package(main="./missing.js"),
        "broken/index.ts": "",
        "built/package.json": package(main="dist/index.js"),
        "built/src/index.ts": "",
    }
    assert edges_of(tmp_path, files) == {
        ("app.ts", "typed/types.d.ts", IMPORT),
        ("app.js", "typed/main.js", REQUIRE),
        ("app.ts", "plain/lib/entry.js", IMPORT),
        ("app.ts", "broken/index.ts", IMPORT),
        ("app.ts", "built/src/index.ts", IMPORT),
    }


def test_javascript_and_typescript_import_each_other(tmp_path: Path) -> None:
    files = {
        "legacy.js": 'const modern = require("./modern");\n',
        "modern.ts": 'import { old } from "./legacy";\nimport App from "./App";\n',
        "App.tsx": 'export { default } from "./Button.jsx";\n',
        "Button.jsx": 'import "./styles.css";\nimport("./lazy.mjs");\n',
        "lazy.mjs": 'import "./config.cjs";\n',
        "config.cjs": 'require("./shared.cts");\n',
        "shared.cts": 'import "./esm.mts";\n',
        "esm.mts": "",
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {
        ("legacy.js", "modern.ts", REQUIRE),
        ("modern.ts", "legacy.js", IMPORT),
        ("modern.ts", "App.tsx", IMPORT),
        ("App.tsx", "Button.jsx", REEXPORT),
        ("Button.jsx", "lazy.mjs", DYNAMIC),
        ("lazy.mjs", "config.cjs", IMPORT),
        ("config.cjs", "shared.cts", REQUIRE),
        ("shared.cts", "esm.mts", IMPORT),
    }
    assert unresolved == {("Button.jsx", "./styles.css")}


def test_what_names_no_file_is_kept_as_written(tmp_path: Path) -> None:
    files = {
        "src/a.ts": (
            'import fs from "fs";\nimport path from "node:path";\nimport React from "react";\n'
            'import { x } from "@scope/pkg/sub";\nimport data from "./data.json";\n'
            'import "./missing";\nimport "../../outside";\nimport "/etc/passwd";\n'
            'import "https://esm.sh/x";\nimport "#internal";\nimport "./self";\n'
        ),
        "src/self.ts": 'import "./self";\n',
        "src/data.json": "{}",
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {("src/a.ts", "src/self.ts", IMPORT)}
    assert unresolved == {
        ("src/a.ts", spec)
        for spec in (
            "fs",
            "node:path",
            "react",
            "@scope/pkg/sub",
            "./data.json",
            "./missing",
            "../../outside",
            "/etc/passwd",
            "https://esm.sh/x",
            "#internal",
        )
    }


def test_committed_repository(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "package.json": package(name="app", main="src/index.js"),
            "src/index.js": 'const { add } = require("./math");\nexport * from "./math";\n',
            "src/math.ts": 'import type { N } from "./types";\nimport _ from "lodash";\n',
            "src/types.ts": "",
        }
    )
    graph = build_graph(repo)
    assert edge_paths(graph) == {
        ("src/index.js", "src/math.ts", REEXPORT),  # the stronger of the two
        ("src/math.ts", "src/types.ts", TYPE_ONLY),
    }
    assert unresolved_paths(graph) == {("src/math.ts", "lodash")}


# -- tsconfig / jsconfig -----------------------------------------------------------------


def test_base_url(tmp_path: Path) -> None:
    files = {
        "tsconfig.json": tsconfig(baseUrl="./src"),
        "src/app/main.ts": 'import "components/button";\nimport "utils";\nimport "react";\n',
        "src/components/button.tsx": "",
        "src/utils/index.ts": "",
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {
        ("src/app/main.ts", "src/components/button.tsx", IMPORT),
        ("src/app/main.ts", "src/utils/index.ts", IMPORT),
    }
    assert unresolved == {("src/app/main.ts", "react")}


def test_paths_patterns_exact_keys_and_fallbacks(tmp_path: Path) -> None:
    paths = {
        "@/*": ["./src/*"],
        "@app/*": ["./src/app/*"],
        "@app/core/*": ["./core/*"],
        "~/*": ["./missing/*", "./generated/*", "./src/*"],
        "config": ["./src/config/index.ts"],
        "*": ["./types/*"],
    }
    files = {
        "tsconfig.json": tsconfig(paths=paths),
        "main.ts": (
            'import "@/util";\nimport "@app/x";\nimport "@app/core/y";\nimport "~/util";\n'
            'import "config";\nimport "config/other";\nimport "globals";\n'
        ),
        "src/util.ts": "",
        "src/app/x.ts": "",
        "core/y.ts": "",
        "src/config/index.ts": "",
        "types/globals.d.ts": "",
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {
        ("main.ts", "src/util.ts", IMPORT),  # also "~/util", by its third substitution
        ("main.ts", "src/app/x.ts", IMPORT),
        ("main.ts", "core/y.ts", IMPORT),  # the longest prefix wins
        ("main.ts", "src/config/index.ts", IMPORT),
        ("main.ts", "types/globals.d.ts", IMPORT),
    }
    assert unresolved == {("main.ts", "config/other")}


def test_paths_are_relative_to_base_url_else_to_their_config(tmp_path: Path) -> None:
    files = {
        "with-base/tsconfig.json": tsconfig(baseUrl="./src", paths={"@/*": ["lib/*"]}),
        "with-base/src/lib/a.ts": "",
        "with-base/main.ts": 'import "@/a";\n',
        "without/tsconfig.json": tsconfig(paths={"@/*": ["lib/*"]}),
        "without/lib/b.ts": "",
        "without/main.ts": 'import "@/b";\n',
    }
    assert edges_of(tmp_path, files) == {
        ("with-base/main.ts", "with-base/src/lib/a.ts", IMPORT),
        ("without/main.ts", "without/lib/b.ts", IMPORT),
    }


def test_extends_two_levels_child_overrides_parent(tmp_path: Path) -> None:
    files = {
        "configs/base.json": tsconfig(
            baseUrl="../src", paths={"@/*": ["./*"], "legacy": ["old.ts"]}
        ),
        "configs/tsconfig.web.json": json.dumps(
            {"extends": "./base", "compilerOptions": {"paths": {"@/*": ["./web/*"]}}}
        ),
        "tsconfig.json": json.dumps({"extends": "./configs/tsconfig.web.json"}),
        "main.ts": 'import "@/page";\nimport "legacy";\nimport "shared";\n',
        "src/web/page.ts": "",
        "src/page.ts": "",
        "src/old.ts": "",
        "src/shared.ts": "",
    }
    edges, unresolved = graph_of(tmp_path, files)
    # The child's `paths` replace the parent's whole map; `baseUrl` is inherited.
    assert edges == {
        ("main.ts", "src/web/page.ts", IMPORT),
        ("main.ts", "src/shared.ts", IMPORT),
    }
    assert unresolved == {("main.ts", "legacy")}


def test_extends_array_later_entries_override_earlier(tmp_path: Path) -> None:
    files = {
        "a.json": tsconfig(baseUrl="./from-a", paths={"@/*": ["./a/*"]}),
        "b.json": tsconfig(paths={"@/*": ["../b/*"]}),
        "tsconfig.json": json.dumps({"extends": ["./a.json", "./b.json", "some-npm-config"]}),
        "main.ts": 'import "@/x";\nimport "y";\n',
        "b/x.ts": "",
        "a/x.ts": "",
        "from-a/y.ts": "",
    }
    assert edges_of(tmp_path, files) == {
        ("main.ts", "b/x.ts", IMPORT),  # b's paths win, relative to a's baseUrl
        ("main.ts", "from-a/y.ts", IMPORT),
    }


def test_extends_a_workspace_package(tmp_path: Path) -> None:
    files = {
        "tooling/tsconfig/package.json": package(name="@acme/tsconfig"),
        "tooling/tsconfig/base.json": tsconfig(paths={"@lib/*": ["../../lib/*"]}),
        "tooling/tsconfig/tsconfig.json": tsconfig(paths={"@def/*": ["../../lib/*"]}),
        "app/tsconfig.json": json.dumps({"extends": "@acme/tsconfig/base.json"}),
        "app/main.ts": 'import "@lib/a";\n',
        "web/tsconfig.json": json.dumps({"extends": "@acme/tsconfig"}),
        "web/main.ts": 'import "@def/a";\n',
        "lib/a.ts": "",
    }
    assert edges_of(tmp_path, files) == {
        ("app/main.ts", "lib/a.ts", IMPORT),
        ("web/main.ts", "lib/a.ts", IMPORT),
    }


def test_jsconfig_and_tsconfig_precedence(tmp_path: Path) -> None:
    files = {
        "js/jsconfig.json": tsconfig(paths={"@/*": ["./src/*"]}),
        "js/src/a.js": "",
        "js/main.jsx": 'import "@/a";\n',
        "both/tsconfig.json": tsconfig(paths={"@/*": ["./ts/*"]}),
        "both/jsconfig.json": tsconfig(paths={"@/*": ["./js/*"]}),
        "both/ts/b.ts": "",
        "both/js/b.js": "",
        "both/main.ts": 'import "@/b";\n',
    }
    assert edges_of(tmp_path, files) == {
        ("js/main.jsx", "js/src/a.js", IMPORT),
        ("both/main.ts", "both/ts/b.ts", IMPORT),
    }


def test_nearest_config_governs_a_sub_project(tmp_path: Path) -> None:
    files = {
        "tsconfig.json": tsconfig(paths={"@/*": ["./src/*"]}),
        "src/x.ts": "",
        "main.ts": 'import "@/x";\n',
        "packages/app/tsconfig.json": tsconfig(baseUrl=".", paths={"@/*": ["app-src/*"]}),
        "packages/app/app-src/x.ts": "",
        "packages/app/deep/er/main.ts": 'import "@/x";\n',
    }
    assert edges_of(tmp_path, files) == {
        ("main.ts", "src/x.ts", IMPORT),
        ("packages/app/deep/er/main.ts", "packages/app/app-src/x.ts", IMPORT),
    }


def test_config_with_comments_and_trailing_commas(tmp_path: Path) -> None:
    config = """{
  // Vite writes comments
  "compilerOptions": {
    /* aliases */
    "paths": { "@/*": ["./src/*"], }, // trailing comma above
  },
}"""
    files = {"tsconfig.json": config, "src/a.ts": "", "main.ts": 'import "@/a";\n'}
    assert edges_of(tmp_path, files) == {("main.ts", "src/a.ts", IMPORT)}


def test_solution_style_config_uses_its_references(tmp_path: Path) -> None:
    files = {
        "tsconfig.json": json.dumps(
            {"files": [], "references": [{"path": "./tsconfig.node.json"}, {"path": "./web"}]}
        ),
        "tsconfig.node.json": tsconfig(),
        "web/tsconfig.json": tsconfig(paths={"@/*": ["./src/*"]}),
        "web/src/ui.tsx": "",
        "main.ts": 'import "@/ui";\n',
    }
    assert edges_of(tmp_path, files) == {("main.ts", "web/src/ui.tsx", IMPORT)}


# -- workspace packages --------------------------------------------------------------------


def test_workspace_packages_by_name(tmp_path: Path) -> None:
    files = {
        "package.json": package(name="monorepo", workspaces=["packages/*"]),
        "packages/utils/package.json": package(name="utils", main="index.js"),
        "packages/utils/index.js": "",
        "packages/core/package.json": package(name="@acme/core"),
        "packages/core/src/index.ts": "",
        "packages/plain/package.json": package(name="@acme/plain"),
        "packages/plain/index.cjs": "",
        "packages/ui/package.json": package(name="@acme/ui", main="lib/index.js"),
        "packages/ui/lib/index.js": "",
        "packages/ui/lib/button/index.tsx": "",
        "packages/ui/lib/theme.ts": "",
        "apps/web/main.ts": (
            'import "utils";\nimport "@acme/core";\nimport "@acme/plain";\nimport "@acme/ui";\n'
            'import "@acme/ui/lib/button";\nimport "@acme/ui/lib/theme.js";\n'
            'import "@acme/ui/missing";\nimport "@acme/ui/../core/src/index";\n'
        ),
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {
        ("apps/web/main.ts", "packages/utils/index.js", IMPORT),
        ("apps/web/main.ts", "packages/core/src/index.ts", IMPORT),
        ("apps/web/main.ts", "packages/plain/index.cjs", IMPORT),
        ("apps/web/main.ts", "packages/ui/lib/index.js", IMPORT),
        ("apps/web/main.ts", "packages/ui/lib/button/index.tsx", IMPORT),
        ("apps/web/main.ts", "packages/ui/lib/theme.ts", IMPORT),
    }
    assert unresolved == {
        ("apps/web/main.ts", "@acme/ui/missing"),
        ("apps/web/main.ts", "@acme/ui/../core/src/index"),
    }


def test_exports_map_subpaths_and_patterns(tmp_path: Path) -> None:
    exports = {
        ".": "./src/main.ts",
        "./feature": {"import": "./src/feature/esm.js", "require": "./src/feature/cjs.js"},
        "./icons/*": "./assets/icons/*.tsx",
        "./icons/special/*": "./assets/special/*.tsx",
        "./*": ["./missing/*.js", "./src/*.ts"],
        "./private/*": None,
    }
    files = {
        "pkg/package.json": package(name="kit", exports=exports, main="./src/legacy.js"),
        "pkg/src/main.ts": "",
        "pkg/src/legacy.js": "",
        "pkg/src/feature/esm.js": "",
        "pkg/src/feature/cjs.js": "",
        "pkg/assets/icons/star.tsx": "",
        "pkg/assets/special/moon.tsx": "",
        "pkg/src/helpers.ts": "",
        "pkg/private/secret.ts": "",
        "app.ts": (
            'import "kit";\nimport "kit/feature";\nimport "kit/icons/star";\n'
            'import "kit/icons/special/moon";\nimport "kit/helpers";\n'
            'import "kit/private/secret";\n'
        ),
    }
    assert edges_of(tmp_path, files) == {
        ("app.ts", "pkg/src/main.ts", IMPORT),
        ("app.ts", "pkg/src/feature/esm.js", IMPORT),
        ("app.ts", "pkg/assets/icons/star.tsx", IMPORT),
        ("app.ts", "pkg/assets/special/moon.tsx", IMPORT),
        ("app.ts", "pkg/src/helpers.ts", IMPORT),
        # null exports hide the path; the package's own layout is the fallback
        ("app.ts", "pkg/private/secret.ts", IMPORT),
    }


def test_export_conditions_follow_the_importer_and_nest(tmp_path: Path) -> None:
    exports = {
        ".": {
            "node": {"types": "./types/index.d.ts", "default": "./node/index.js"},
            "import": "./esm/index.js",
            "types": "./types/index.d.ts",
            "default": "./cjs/index.js",
        }
    }
    files = {
        "lib/package.json": package(name="lib", exports=exports),
        "lib/types/index.d.ts": "",
        "lib/esm/index.js": "",
        "lib/node/index.js": "",
        "lib/cjs/index.js": "",
        "a.ts": 'import "lib";\n',
        "b.js": 'import "lib";\n',
        "flat/package.json": package(name="flat", exports="./flat.js"),
        "flat/flat.js": "",
        "c.ts": 'import "flat";\n',
        "nested/package.json": package(
            name="nested", exports={"node": {"import": "./esm.js"}, "default": "./cjs.js"}
        ),
        "nested/esm.js": "",
        "nested/cjs.js": "",
        "d.js": 'import "nested";\n',
    }
    assert edges_of(tmp_path, files) == {
        ("a.ts", "lib/types/index.d.ts", IMPORT),
        ("b.js", "lib/esm/index.js", IMPORT),
        ("c.ts", "flat/flat.js", IMPORT),
        ("d.js", "nested/esm.js", IMPORT),
    }


def test_missing_build_output_falls_back_to_sources(tmp_path: Path) -> None:
    files = {
        "a/package.json": package(name="a", main="dist/index.js", types="dist/index.d.ts"),
        "a/src/index.ts": "",
        "b/package.json": package(
            name="b", exports={".": {"import": "./dist/esm/index.mjs"}, "./*": "./dist/cjs/*.js"}
        ),
        "b/src/index.mts": "",
        "b/src/tools/x.ts": "",
        "c/package.json": package(name="c", module="./lib/c.mjs"),
        "c/src/c.js": "",
        "d/package.json": package(name="d", main="./build/main.js"),
        "d/index.jsx": "",
        "main.ts": 'import "a";\nimport "b";\nimport "b/tools/x";\nimport "c";\nimport "d";\n',
    }
    assert edges_of(tmp_path, files) == {
        ("main.ts", "a/src/index.ts", IMPORT),
        ("main.ts", "b/src/index.mts", IMPORT),
        ("main.ts", "b/src/tools/x.ts", IMPORT),
        ("main.ts", "c/src/c.js", IMPORT),
        ("main.ts", "d/index.jsx", IMPORT),
    }


def test_package_imports_map(tmp_path: Path) -> None:
    imports = {"#db": {"node": "./src/db/node.ts", "default": "./src/db/web.ts"}, "#ui/*": "./ui/*"}
    files = {
        "app/package.json": package(name="app", imports=imports),
        "app/src/db/node.ts": "",
        "app/ui/button.tsx": "",
        "app/src/deep/main.ts": 'import "#db";\nimport "#ui/button";\nimport "#nothing";\n',
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {
        ("app/src/deep/main.ts", "app/src/db/node.ts", IMPORT),
        ("app/src/deep/main.ts", "app/ui/button.tsx", IMPORT),
    }
    assert unresolved == {("app/src/deep/main.ts", "#nothing")}


def test_paths_come_before_workspace_packages(tmp_path: Path) -> None:
    files = {
        "tsconfig.json": tsconfig(paths={"shared": ["./local/shared.ts"]}),
        "local/shared.ts": "",
        "packages/shared/package.json": package(name="shared"),
        "packages/shared/index.ts": "",
        "packages/other/package.json": package(name="other"),
        "packages/other/index.ts": "",
        "main.ts": 'import "shared";\nimport "other";\n',
    }
    assert edges_of(tmp_path, files) == {
        ("main.ts", "local/shared.ts", IMPORT),
        ("main.ts", "packages/other/index.ts", IMPORT),
    }


# -- hostile input ---------------------------------------------------------------------------


def test_hostile_specifiers_stay_unresolved(tmp_path: Path) -> None:
    climb = "../" * 100 + "etc/passwd"
    huge = "./" + "x/" * 5000
    files: Files = {
        "a/b/main.js": (
            f'import "{climb}";\nimport "{huge}";\nimport "./nul\\u0000";\n'
            'import "./a/../../../x";\nimport "./a/../../../../x";\n'
            'import "@";\nimport "@/";\nimport "";\n'
        ),
        "x.js": "",
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {("a/b/main.js", "x.js", IMPORT)}
    assert {spec for _, spec in unresolved} == {
        climb,
        huge[:MAX_SPECIFIER],
        "./nul\\u0000",
        "./a/../../../../x",
        "@",
        "@/",
        "",
    }


def test_hostile_configurations_are_bounded(tmp_path: Path) -> None:
    nested: object = "./deep.js"
    for _ in range(50):
        nested = {"default": [nested]}
    files = {
        "tsconfig.json": json.dumps(
            {
                "extends": ["./loop.json", "../../outside.json", "/etc/tsconfig.json", 7],
                "compilerOptions": {
                    "baseUrl": "../../..",
                    "paths": {"x/*/*": ["./*"], "esc/*": ["../*"], "odd": "./not-a-list"},
                },
            }
        ),
        "loop.json": json.dumps({"extends": "./tsconfig.json"}),
        "self/package.json": package(name="self", main="."),
        "deep/package.json": package(name="deep", exports=nested),
        "deep/deep.js": "",
        "broken/package.json": "{not json",
        "broken/index.js": "",
        "main.ts": "".join(
            f'import "{spec}";\n' for spec in ("self", "deep", "esc/x", "odd", "./broken")
        ),
    }
    edges, unresolved = graph_of(tmp_path, files)
    assert edges == {("main.ts", "broken/index.js", IMPORT)}
    assert unresolved == {("main.ts", s) for s in ("self", "deep", "esc/x", "odd")}


def test_extends_chains_are_cut_and_directories_are_not_configs(tmp_path: Path) -> None:
    chain = {f"c{i}.json": json.dumps({"extends": f"./c{i + 1}.json"}) for i in range(12)}
    files = {
        **chain,
        "c12.json": tsconfig(paths={"deep/*": ["./*"]}),
        "c3.json": json.dumps({"extends": "./c4", "compilerOptions": {"baseUrl": "./src"}}),
        "tsconfig.json": json.dumps({"extends": ["./trap.json", "./c0.json"]}),
        "trap.json/a.ts": "",
        "src/x.ts": "",
        "main.ts": 'import "deep/x";\nimport "x";\n',
    }
    edges, unresolved = graph_of(tmp_path, files)
    # c3's baseUrl is within reach; c12's paths are past MAX_DEPTH.
    assert edges == {("main.ts", "src/x.ts", IMPORT)}
    assert unresolved == {("main.ts", "deep/x")}


def test_resolver_without_a_checkout_reads_nothing() -> None:
    repo = RepoIndex(["a.ts", "b/index.js"], ["tsconfig.json", "b/package.json"], None)
    found = {
        0: (JsImport("./b", REQUIRE), JsImport("@/x", IMPORT), JsImport("./b\0", IMPORT)),
        1: (JsImport("../a", TYPE_ONLY), JsImport("..", IMPORT)),
    }
    resolution = resolve(repo, found)
    assert resolution.edges == [(0, 1, REQUIRE), (1, 0, TYPE_ONLY)]
    assert resolution.unresolved == [(0, "@/x"), (0, "./b\0"), (1, "..")]


def test_both_languages_share_one_resolver() -> None:
    javascript = PLUGINS[graph_pb2.LANGUAGE_JAVASCRIPT]
    typescript = PLUGINS[graph_pb2.LANGUAGE_TYPESCRIPT]
    assert javascript.resolve is typescript.resolve is resolve
    assert javascript.extract is typescript.extract is extract


STATEMENTS = [
    'import a from "./a";',
    'import type { T } from "./t";',
    'import { type A, b } from "./mixed";',
    'export * from "./all";',
    'export type { U } from "./u";',
    "export { x } from './x';",
    'const r = require("./r");',
    "require(`./tpl`);",
    "f(require('./inner'));",
    'const d = await import("./dyn");',
    'let q: typeof import("./q");',
    'import z = require("./z");',
    "console.log(\"import x from './not'\");",
    "// require('./comment')",
    "import.meta.url;",
    "function f() { return require('./nested'); }",
    "(",
    "}",
    "`",
]


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(st.sampled_from(STATEMENTS), max_size=12),
    path=st.sampled_from(["m.js", "m.ts", "m.tsx", "m.mjs"]),
)
def test_keyword_lookup_matches_the_query(lines: list[str], path: str) -> None:
    """Outside flat error trees imports are found from the keywords' own nodes; that
    must give exactly what the query (still used in flat error trees) gives."""
    source = "\n".join(lines).encode()
    language = js_imports._language_of(path)
    root = parse(language, source).root_node
    by_query = run_matches(js_imports._QUERIES[language], root)
    by_keyword = js_imports._keyword_matches(root, source)

    def summary(matches: list[dict[str, list[Node]]]) -> list[tuple[str, ...]]:
        return sorted(
            tuple(sorted(f"{name}@{nodes[0].start_byte}" for name, nodes in match.items()))
            for match in matches
            if "callee" not in match or match["callee"][0].text == b"require"
        )

    assert summary(by_keyword) == summary(by_query)
