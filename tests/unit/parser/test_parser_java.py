"""Java import extraction and javac-style resolution, checked on small real trees."""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from parser_helpers import build as graph_of
from parser_helpers import import_edges as edges
from parser_helpers import unresolved_paths, write_tree

from neo_alexandria.v1 import graph_pb2
from services.parser.graph import build_graph
from services.parser.java_imports import JavaFile, JavaImport, extract

IMPORT = graph_pb2.EDGE_KIND_IMPORT


def facts(source: str | bytes) -> JavaFile:
    data = source.encode() if isinstance(source, str) else source
    result = extract("X.java", data).facts
    assert isinstance(result, JavaFile)
    return result


# --- extraction ---------------------------------------------------------------------------


def test_package_and_imports_in_source_order_with_flags() -> None:
    file = facts(
        "package com . /* spaced */ acme;\n"
        "import java.util.List;\n"
        "import static a.b.C.m;\n"
        "import a.b.*;\n"
        "import static a.b.C.*;\n"
        "import x // comment\n  .Y;\n"
    )
    assert file.package == "com.acme"
    assert file.imports == (
        JavaImport("java.util.List"),
        JavaImport("a.b.C.m", static=True),
        JavaImport("a.b", wildcard=True),
        JavaImport("a.b.C", static=True, wildcard=True),
        JavaImport("x.Y"),
    )
    assert [imp.specifier for imp in file.imports[2:4]] == ["a.b.*", "a.b.C.*"]


def test_every_kind_of_top_level_type_is_declared_but_nested_ones_are_not() -> None:
    file = facts(
        "class A { class Nested { interface Deeper {} } enum E { X } }\n"
        "interface I {}\nenum En { ONE }\nrecord R(int x) { record Inner() {} }\n"
        "@interface Ann {}\n"
    )
    assert file.types == ("A", "I", "En", "R", "Ann")
    assert file.package == ""


def test_references_cover_every_type_position() -> None:
    file = facts(
        """
        @Marker
        class A<T extends Bound> extends Base<Arg> implements Iface, Other.Nested {
          Field f; Gen<Param, ? super Wild> g; Arr[] arr; Outer.Inner scoped;
          @Anno(Value.class) void m(ParamType p) throws Thrown {
            Local l = new Created(); Object o = (Cast) p; boolean b = p instanceof Inst;
            StaticCall.run(); int k = Constant.MAX; Runnable r = Ref::make;
            try { } catch (Caught e) { }
            lower.call(); this.field.x = 1; T t = null;
          }
        }
        """
    )
    assert set(file.references) == {
        "Anno", "Arg", "Arr", "Base", "Bound", "Cast", "Caught", "Constant", "Created",
        "Field", "Gen", "Iface", "Inst", "Local", "Marker", "Object", "Other", "Outer",
        "Param", "ParamType", "Ref", "Runnable", "StaticCall", "Thrown", "Value", "Wild",
    }  # fmt: skip


def test_own_types_nested_types_and_type_parameters_are_not_references() -> None:
    file = facts("class A<K> { static class Builder {} Builder b; A a; K k; Map<K, V> m; }")
    assert file.references == ("Map", "V")


def test_tails_of_scoped_types_are_not_references_unless_also_used_alone() -> None:
    assert facts("class A { Map.Entry e; java.util.List l; }").references == ("Map", "java")
    assert facts("class A { Map.Entry e; Entry f; }").references == ("Entry", "Map")


def test_qualified_names_written_in_code() -> None:
    file = facts(
        """
        @com.acme.Marker @Holder.Compiled class A {
          java.util.List<x.y.Z> list; Map.Entry e; Outer<T>.Inner i;
          void m() { com.acme.util.Strings.join(); acme.Util.go(); Upper.FIELD.x();
                     this.a.b = 1; local.field = 2; }
        }
        """
    )
    # `acme.Util.go()` and `local.field`: two segments in an expression, left out
    assert file.qualified == ("com.acme.Marker", "com.acme.util.Strings", "java.util.List", "x.y.Z")
    assert file.references == ("Holder", "Map", "Outer", "T", "Upper", "java", "x")


def test_module_info_declares_no_types_and_names_its_service_types() -> None:
    file = facts(
        "import com.acme.spi.Codec;\n"
        "module com.acme.app {\n  requires java.sql;\n  exports com.acme.api;\n"
        "  uses com.acme.spi.Service;\n"
        "  provides com.acme.spi.Service with com.acme.impl.Fast, Codec;\n}\n"
    )
    assert file.types == ()
    assert file.imports == (JavaImport("com.acme.spi.Codec"),)
    assert file.qualified == ("com.acme.impl.Fast", "com.acme.spi.Service")
    assert file.references == ("Codec",)


def test_package_info_declares_no_types() -> None:
    file = facts("@Generated\npackage com.acme;\nimport com.acme.meta.Generated;\n")
    assert (file.package, file.types, file.references) == ("com.acme", (), ("Generated",))
    assert file.imports == (JavaImport("com.acme.meta.Generated"),)


def test_syntax_errors_keep_what_was_recognised_with_a_note() -> None:
    result = extract("X.java", b"package p;\nimport a.b.C;\nclass A {\n  void m( { x\n}\n")
    assert result.facts.imports == (JavaImport("a.b.C"),)
    assert result.facts.types == ("A",)
    assert result.error == "syntax error near line 4; imports found were kept"
    missing = extract("X.java", b"package p;\nimport a.b.C;\nclass A {")
    assert missing.error == "syntax error (missing token); imports found were kept"
    assert extract("X.java", b"class A {}").error is None


def test_invalid_utf8_and_binary_input_never_fail() -> None:
    file = facts(b"package p;\nimport a.\xfeb.C;\nclass A\xff {}\n")
    assert file.imports == (JavaImport("a.\ufffdb.C"),)
    assert file.types == ("A",)
    assert isinstance(facts(bytes(range(256)) * 100), JavaFile)


def test_facts_are_frozen_and_pickle() -> None:
    file = facts("package p; import static a.B.*; class A extends B { c.d.E e; }")
    assert pickle.loads(pickle.dumps(file)) == file
    with pytest.raises(AttributeError):
        file.package = "q"  # type: ignore[misc]


def test_hostile_depth_and_length_stay_fast() -> None:
    sources = [
        b"import " + b".".join([b"a"] * 100_000) + b";\nclass A {}",
        b"class A { " + b"List<" * 50_000 + b"X" + b">" * 50_000 + b" f; }",
        b"class A { Object f = " + b"a." * 100_000 + b"B; }",
        b"class A { int f = " + b"(" * 100_000 + b"1" + b")" * 100_000 + b"; }",
    ]
    started = time.perf_counter()
    for source in sources:
        assert isinstance(facts(source), JavaFile)
    assert time.perf_counter() - started < 10  # tree-sitter's cursor alone took minutes
    assert len(facts(sources[0]).imports[0].name) == 199_999


# --- resolution ---------------------------------------------------------------------------

MODEL = {
    "src/com/acme/model/Item.java": "package com.acme.model;\npublic class Item {}\n",
    "src/com/acme/model/Order.java": "package com.acme.model;\npublic class Order {}\n",
    "src/com/acme/model/Unused.java": "package com.acme.model;\npublic class Unused {}\n",
}


def test_single_type_import_and_unresolved_jdk_import(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/app/Main.java": (
                "package com.acme.app;\nimport com.acme.model.Item;\nimport java.util.List;\n"
                "class Main {}\n"
            ),
        },
    )
    assert edges(graph) == {("src/com/acme/app/Main.java", "src/com/acme/model/Item.java")}
    assert unresolved_paths(graph) == {("src/com/acme/app/Main.java", "java.util.List")}


def test_nested_and_static_imports_strip_to_the_declaring_file(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "a/Outer.java": "package a;\npublic class Outer { public static class Inner {} }\n",
            "a/Strings.java": "package a;\npublic class Strings { public static void join() {} }\n",
            "a/Consts.java": (
                "package a;\npublic class Consts { public static class Limits "
                "{ public static final int MAX = 1; } }\n"
            ),
            "b/Nested.java": "package b;\nimport a.Outer.Inner;\nclass Nested {}\n",
            "b/Deeper.java": "package b;\nimport a.Outer.Inner.Gone;\nclass Deeper {}\n",
            "b/Method.java": "package b;\nimport static a.Strings.join;\nclass Method {}\n",
            "b/Constant.java": "package b;\nimport static a.Consts.Limits.MAX;\nclass Constant {}",
        },
    )
    assert edges(graph) == {
        ("b/Nested.java", "a/Outer.java"),
        ("b/Deeper.java", "a/Outer.java"),
        ("b/Method.java", "a/Strings.java"),
        ("b/Constant.java", "a/Consts.java"),
    }
    assert unresolved_paths(graph) == set()


def test_static_and_nested_on_demand_imports_name_the_type_file(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "a/Strings.java": "package a;\npublic class Strings {}\n",
            "a/Outer.java": "package a;\npublic class Outer { public static class In {} }\n",
            "b/User.java": "package b;\nimport static a.Strings.*;\nimport a.Outer.*;\nclass U {}",
        },
    )
    assert edges(graph) == {("b/User.java", "a/Strings.java"), ("b/User.java", "a/Outer.java")}


def test_on_demand_import_reaches_only_the_types_used(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/app/Main.java": (
                "package com.acme.app;\nimport com.acme.model.*;\nimport org.junit.*;\n"
                "class Main { Item item; Object o = new Order(); Missing m; }\n"
            ),
        },
    )
    main = "src/com/acme/app/Main.java"
    assert edges(graph) == {
        (main, "src/com/acme/model/Item.java"),
        (main, "src/com/acme/model/Order.java"),
    }
    assert unresolved_paths(graph) == {(main, "org.junit.*")}


def test_same_package_type_beats_on_demand_import(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/app/Item.java": "package com.acme.app;\nclass Item {}\n",
            "src/com/acme/app/Main.java": (
                "package com.acme.app;\nimport com.acme.model.*;\n"
                "class Main { Item item; Order order; }\n"
            ),
        },
    )
    assert edges(graph) == {
        ("src/com/acme/app/Main.java", "src/com/acme/app/Item.java"),
        ("src/com/acme/app/Main.java", "src/com/acme/model/Order.java"),
    }


def test_single_type_import_shadows_same_package_type(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/app/Item.java": "package com.acme.app;\nclass Item {}\n",
            "src/com/acme/app/List.java": "package com.acme.app;\nclass List {}\n",
            "src/com/acme/app/Main.java": (
                "package com.acme.app;\nimport com.acme.model.Item;\nimport java.util.List;\n"
                "class Main { Item item; List<Item> items; }\n"
            ),
        },
    )
    assert edges(graph) == {("src/com/acme/app/Main.java", "src/com/acme/model/Item.java")}
    assert unresolved_paths(graph) == {("src/com/acme/app/Main.java", "java.util.List")}


@pytest.mark.parametrize(
    "body",
    [
        "class User { Target field; }",
        "class User { java.util.List<Target> items; }",
        "class User extends Target {}",
        "class User implements Runnable, Target {}",
        "class User { Object o = new Target(); }",
        "class User { void m() { Target.make(); } }",
        "class User { Object o = Target.LIMIT; }",
        "@Target class User {}",
        "@Target.Nested class User {}",
        "class User { void m() throws Target {} }",
        "class User { Object o = (Target) null; Object c = Target.class; }",
        "class User { boolean b(Object o) { return o instanceof Target; } }",
        "class User { void m() { try { } catch (Target e) { } } }",
        "class User { Runnable r = Target::run; Target[] all; }",
    ],
)
def test_same_package_reference(tmp_path: Path, body: str) -> None:
    graph = graph_of(
        tmp_path,
        {
            "p/User.java": f"package p;\n{body}\n",
            "p/Target.java": "package p;\npublic class Target {}\n",
            "p/Other.java": "package p;\nclass Other {}\n",
            "q/Target.java": "package q;\npublic class Target {}\n",
        },
    )
    assert edges(graph) == {("p/User.java", "p/Target.java")}


def test_own_nested_types_and_type_parameters_shadow_the_package(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "p/User.java": (
                "package p;\nimport p.User.Inner;\n"
                "class User<Param> { static class Target {} Target t; Param p; Inner i; "
                "static class Inner {} }\n"
            ),
            "p/Target.java": "package p;\nclass Target {}\n",
            "p/Param.java": "package p;\nclass Param {}\n",
        },
    )
    assert edges(graph) == set()
    assert unresolved_paths(graph) == set()


def test_lower_case_objects_are_variables_not_types(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "p/User.java": "package p;\nclass User { void m(Object target) { target.run(); } }\n",
            "p/target.java": "package p;\nclass target {}\n",
        },
    )
    assert edges(graph) == set()


def test_every_kind_of_type_declaration_is_indexed(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "m/Color.java": "package m;\npublic enum Color { RED }\n",
            "m/Point.java": "package m;\npublic record Point(int x) {}\n",
            "m/Shape.java": "package m;\npublic interface Shape {}\n",
            "m/Marker.java": "package m;\npublic @interface Marker {}\n",
            "m/Pair.java": "package m;\npublic class Pair {}\nclass PairHelper {}\n",
            "m/Use.java": "package m;\nclass Use { PairHelper h; }\n",
            "u/User.java": (
                "package u;\nimport m.Color;\nimport m.Point;\nimport m.Shape;\nimport m.Marker;\n"
                "class User {}\n"
            ),
        },
    )
    assert edges(graph) == {
        ("u/User.java", "m/Color.java"),
        ("u/User.java", "m/Point.java"),
        ("u/User.java", "m/Shape.java"),
        ("u/User.java", "m/Marker.java"),
        ("m/Use.java", "m/Pair.java"),
    }


def test_qualified_names_in_code_resolve_without_imports(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/Marker.java": "package com.acme;\npublic @interface Marker {}\n",
            "src/com/acme/util/Strings.java": "package com.acme.util;\npublic class Strings {}\n",
            "src/com/acme/app/Main.java": (
                "package com.acme.app;\n@com.acme.Marker\nclass Main {\n"
                "  Object item = new com.acme.model.Item();\n"
                "  void m() { com.acme.util.Strings.join(); java.util.List.of(); }\n}\n"
            ),
        },
    )
    main = "src/com/acme/app/Main.java"
    assert edges(graph) == {
        (main, "src/com/acme/Marker.java"),
        (main, "src/com/acme/model/Item.java"),
        (main, "src/com/acme/util/Strings.java"),
    }
    assert unresolved_paths(graph) == set()


def test_unnamed_package_is_seen_only_from_its_own_directory(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "Main.java": "class Main { Helper h; Thing t; }\n",
            "Helper.java": "class Helper {}\n",
            "other/Helper.java": "class Helper {}\n",
            "other/Thing.java": "class Thing { Helper h; }\n",
            "p/Named.java": "package p;\nclass Named { Helper h; }\n",
        },
    )
    assert edges(graph) == {("Main.java", "Helper.java"), ("other/Thing.java", "other/Helper.java")}


def test_maven_layout_links_tests_to_main_sources(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "pom.xml": "<project/>\n",
            "src/main/java/com/acme/Service.java": (
                "package com.acme;\npublic class Service { Repo repo = new Repo(); }\n"
            ),
            "src/main/java/com/acme/Repo.java": "package com.acme;\nclass Repo {}\n",
            "src/test/java/com/acme/ServiceTest.java": (
                "package com.acme;\nimport org.junit.jupiter.api.Test;\n"
                "class ServiceTest { @Test void works() { new Service(); } }\n"
            ),
        }
    )
    graph = build_graph(repo)
    assert edges(graph) == {
        ("src/main/java/com/acme/Service.java", "src/main/java/com/acme/Repo.java"),
        ("src/test/java/com/acme/ServiceTest.java", "src/main/java/com/acme/Service.java"),
    }
    assert unresolved_paths(graph) == {
        ("src/test/java/com/acme/ServiceTest.java", "org.junit.jupiter.api.Test")
    }


def test_duplicate_name_resolves_to_the_nearest_module(make_repo: Callable[..., Path]) -> None:
    util = "package com.acme;\npublic class Util {}\n"
    repo = make_repo(
        {
            "core/src/main/java/com/acme/Util.java": util,
            "legacy/src/main/java/com/acme/Util.java": util,
            "core/src/main/java/com/acme/Api.java": "package com.acme;\nclass Api { Util u; }\n",
            "legacy/src/main/java/com/acme/Old.java": "package com.acme;\nclass Old { Util u; }\n",
            "legacy/src/test/java/com/acme/web/OldTest.java": (
                "package com.acme.web;\nimport com.acme.Util;\nclass OldTest {}\n"
            ),
            "app/src/main/java/com/acme/app/Main.java": (
                "package com.acme.app;\nimport com.acme.Util;\nclass Main {}\n"
            ),
        }
    )
    assert edges(build_graph(repo)) == {
        ("core/src/main/java/com/acme/Api.java", "core/src/main/java/com/acme/Util.java"),
        ("legacy/src/main/java/com/acme/Old.java", "legacy/src/main/java/com/acme/Util.java"),
        (
            "legacy/src/test/java/com/acme/web/OldTest.java",
            "legacy/src/main/java/com/acme/Util.java",
        ),
        # equally far from both: the first by path
        ("app/src/main/java/com/acme/app/Main.java", "core/src/main/java/com/acme/Util.java"),
    }


def test_imports_naming_no_repository_type_are_kept_as_written(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/app/Main.java": (
                "package com.acme.app;\nimport java.util.List;\nimport org.junit.*;\n"
                "import static org.junit.Assert.assertEquals;\n"
                "import static org.mockito.Mockito.*;\n"
                "import com.acme.model.Missing;\nimport com.acme.absent.*;\n"
                "class Main { Foo foo; Bar bar; Object o = Baz.QUX; }\n"
            ),
        },
    )
    main = "src/com/acme/app/Main.java"
    assert edges(graph) == set()
    assert unresolved_paths(graph) == {
        (main, "java.util.List"),
        (main, "org.junit.*"),
        (main, "org.junit.Assert.assertEquals"),
        (main, "org.mockito.Mockito.*"),
        (main, "com.acme.model.Missing"),
        (main, "com.acme.absent.*"),
    }


def test_file_with_syntax_errors_still_has_edges_and_a_note(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            **MODEL,
            "src/com/acme/app/Broken.java": (
                "package com.acme.app;\nimport com.acme.model.Item;\n"
                "class Broken {\n  void m( { Order o\n}\n"
            ),
        },
    )
    broken = "src/com/acme/app/Broken.java"
    assert edges(graph) == {(broken, "src/com/acme/model/Item.java")}
    assert graph.errors == [(broken, "syntax error near line 4; imports found were kept")]


def test_module_info_and_package_info_are_nodes_with_imports(tmp_path: Path) -> None:
    root = "src/main/java/"
    graph = graph_of(
        tmp_path,
        {
            root + "module-info.java": (
                "import com.acme.spi.Codec;\nmodule com.acme {\n  exports com.acme.spi;\n"
                "  uses com.acme.spi.Service;\n  provides Codec with com.acme.impl.Fast;\n}\n"
            ),
            root
            + "com/acme/spi/Service.java": "package com.acme.spi;\npublic interface Service {}\n",
            root + "com/acme/spi/Codec.java": "package com.acme.spi;\npublic interface Codec {}\n",
            root + "com/acme/spi/package-info.java": (
                "@Stable\npackage com.acme.spi;\nimport com.acme.meta.Stable;\n"
            ),
            root
            + "com/acme/meta/Stable.java": "package com.acme.meta;\npublic @interface Stable {}\n",
            root + "com/acme/impl/Fast.java": (
                "package com.acme.impl;\nimport com.acme.spi.*;\nclass Fast implements Codec {}\n"
            ),
        },
    )
    spi = root + "com/acme/spi/"
    assert edges(graph) == {
        (root + "module-info.java", spi + "Codec.java"),
        (root + "module-info.java", spi + "Service.java"),
        (root + "module-info.java", root + "com/acme/impl/Fast.java"),
        (spi + "package-info.java", root + "com/acme/meta/Stable.java"),
        (root + "com/acme/impl/Fast.java", spi + "Codec.java"),
    }
    assert len(graph.nodes) == 6


def test_java_lang_is_imported_on_demand_implicitly(tmp_path: Path) -> None:
    graph = graph_of(
        tmp_path,
        {
            "java/lang/Text.java": "package java.lang;\npublic final class Text {}\n",
            "java/util/Box.java": "package java.util;\npublic class Box { Text t; Text2 u; }\n",
            "app/Main.java": "package app;\nclass Main { Text t; }\n",
            "app/Text.java": "package app;\nclass Text {}\n",
        },
    )
    assert edges(graph) == {
        ("java/util/Box.java", "java/lang/Text.java"),
        ("app/Main.java", "app/Text.java"),  # the own package first
    }


def test_hostile_names_resolve_quickly(tmp_path: Path) -> None:
    long = ".".join(f"p{i}" for i in range(200))  # under MAX_NAME: indexed
    absurd = ".".join(f"p{i}" for i in range(50_000))  # over it: never resolved
    started = time.perf_counter()
    graph = graph_of(
        tmp_path,
        {
            "deep/T.java": f"package {long};\nclass T {{ T0 a; }}\n",
            "deep/T0.java": f"package {long};\nclass T0 {{}}\n",
            "absurd/A.java": f"package {absurd};\nclass A {{ B b; }}\n",
            "absurd/B.java": f"package {absurd};\nclass B {{}}\n",
            "user/User.java": (
                "".join(f"import static {long}.T.m{i};\n" for i in range(50))
                + "".join(f"import {absurd}.A{i};\n" for i in range(2))
                + "".join(f"class C{i} {{ X{i} x; }}\n" for i in range(5000))
            ),
        },
    )
    assert time.perf_counter() - started < 10
    assert edges(graph) == {("deep/T.java", "deep/T0.java"), ("user/User.java", "deep/T.java")}
    assert unresolved_paths(graph) == {("user/User.java", absurd[:1024])}  # both, once cut


# --- the same answers as the compiler -----------------------------------------------------

COMPILED = {
    "com/acme/model/Item.java": (
        "package com.acme.model;\npublic class Item {\n"
        "  public static class Inner { public static Object make() { return new Object(); } }\n}\n"
    ),
    "com/acme/model/Order.java": (
        "package com.acme.model;\npublic class Order { public Item item; }\n"
    ),
    "com/acme/model/Unused.java": "package com.acme.model;\npublic class Unused {}\n",
    "com/acme/model/Color.java": "package com.acme.model;\npublic enum Color { RED, GREEN }\n",
    "com/acme/model/Point.java": "package com.acme.model;\npublic record Point(int x, int y) {}\n",
    "com/acme/model/Tag.java": (
        "package com.acme.model;\nimport java.lang.annotation.Retention;\n"
        "import java.lang.annotation.RetentionPolicy;\n"
        "@Retention(RetentionPolicy.RUNTIME)\npublic @interface Tag {}\n"
    ),
    "com/acme/model/Failure.java": (
        "package com.acme.model;\npublic class Failure extends Exception {}\n"
    ),
    "com/acme/util/Strings.java": (
        "package com.acme.util;\npublic final class Strings {\n"
        "  public static Object EMPTY = new Object();\n"
        "  public static String join(Object a) { return String.valueOf(a); }\n}\n"
    ),
    "com/acme/util/Shape.java": "package com.acme.util;\npublic interface Shape {}\n",
    "com/acme/app/Main.java": """package com.acme.app;
import com.acme.model.*;
import com.acme.model.Item.Inner;
import static com.acme.util.Strings.join;
import java.util.List;
@Tag
public class Main implements com.acme.util.Shape {
  List<Order> orders;
  Color color;
  Object point = new Point(1, 2);
  void run() throws Failure { Inner.make(); join(helper()); }
  Helper helper() { return new Helper(); }
}
""",
    "com/acme/app/Helper.java": (
        "package com.acme.app;\nclass Helper { Object empty = com.acme.util.Strings.EMPTY; }\n"
    ),
    "Tool.java": "public class Tool { public static void use() {} }\n",
    "Runner.java": "public class Runner { void go() { Tool.use(); } }\n",
}

COMPILED_EDGES = {
    ("com/acme/app/Main.java", "com/acme/app/Helper.java"),
    ("com/acme/app/Main.java", "com/acme/model/Color.java"),
    ("com/acme/app/Main.java", "com/acme/model/Failure.java"),
    ("com/acme/app/Main.java", "com/acme/model/Item.java"),
    ("com/acme/app/Main.java", "com/acme/model/Order.java"),
    ("com/acme/app/Main.java", "com/acme/model/Point.java"),
    ("com/acme/app/Main.java", "com/acme/model/Tag.java"),
    ("com/acme/app/Main.java", "com/acme/util/Shape.java"),
    ("com/acme/app/Main.java", "com/acme/util/Strings.java"),
    ("com/acme/app/Helper.java", "com/acme/util/Strings.java"),
    ("com/acme/model/Order.java", "com/acme/model/Item.java"),
    ("Runner.java", "Tool.java"),
}
"""Checked by hand: every rule at once, and no edge to Unused."""


def test_mixed_fixture_edges_checked_by_hand(tmp_path: Path) -> None:
    graph = graph_of(tmp_path, COMPILED)
    assert edges(graph) == COMPILED_EDGES
    assert unresolved_paths(graph) == {
        ("com/acme/app/Main.java", "java.util.List"),
        ("com/acme/model/Tag.java", "java.lang.annotation.Retention"),
        ("com/acme/model/Tag.java", "java.lang.annotation.RetentionPolicy"),
    }


_JDEPS_LINE = re.compile(r"^\s+(\S+)\s+->\s+(\S+)\s+\S+$")
_FAST_JVM = ("-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC")


@pytest.mark.skipif(
    not (shutil.which("javac") and shutil.which("jdeps")),
    reason="javac and jdeps (a JDK) are not on PATH",
)
def test_edges_match_jdeps_on_the_compiled_classes(tmp_path: Path) -> None:
    """jdeps reads the class files javac wrote: compiler-grade class → class dependencies."""
    source = write_tree(tmp_path / "src", COMPILED)
    classes = tmp_path / "classes"
    subprocess.run(
        ["javac", *_FAST_JVM, "-d", str(classes), *(str(source / rel) for rel in COMPILED)],
        check=True,
        capture_output=True,
    )
    report = subprocess.run(
        ["jdeps", *_FAST_JVM, "-verbose:class", "-filter:none", str(classes)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    file_of = {rel.removesuffix(".java").replace("/", "."): rel for rel in COMPILED}
    compiled: set[tuple[str, str]] = set()
    for line in report.splitlines():
        match = _JDEPS_LINE.match(line)
        if match:
            origin, target = (file_of.get(name.split("$")[0]) for name in match.groups())
            if origin and target and origin != target:
                compiled.add((origin, target))
    assert compiled == edges(build_graph(source)) == COMPILED_EDGES
