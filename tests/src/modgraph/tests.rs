//! The checker on small crates written to a temp dir: planted cycles found with their sites, facades not taken for
//! cycles, every kind of path making its edge, and comments and strings making none.

use std::fs;
use std::path::Path;

use super::{crate_roots, render_cycles, CrateGraph, CrateRoot};

/// A crate of `files` (paths relative to the crate dir, `src/lib.rs` its root), read back as a graph.
fn graph(files: &[(&str, &str)]) -> CrateGraph {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    CrateGraph::read("t", &dir.path().join("src/lib.rs"), dir.path()).unwrap()
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// The sites of the edge `from -> to` as `file:line`, empty when there is no edge.
fn sites(g: &CrateGraph, from: &str, to: &str) -> Vec<String> {
    g.edge(from, to).map(|e| e.sites.iter().map(ToString::to_string).collect()).unwrap_or_default()
}

#[test]
fn two_cycle_is_found_with_its_sites() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "use crate::b::g;\n\npub fn f() {\n    g();\n}\n"),
        ("src/b.rs", "pub fn g() {}\n\npub fn h() {\n    crate::a::f();\n}\n"),
    ]);
    let cycles = g.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].modules, ["a", "b"]);
    assert_eq!(cycles[0].edges.len(), 2);
    assert_eq!(sites(&g, "a", "b"), ["src/a.rs:1"]);
    assert_eq!(sites(&g, "b", "a"), ["src/b.rs:4"]);
    let shown = render_cycles(&g);
    assert!(shown.contains("cycle 1: a, b"), "{shown}");
    assert!(shown.contains("a -> b: src/a.rs:1") && shown.contains("b -> a: src/b.rs:4"), "{shown}");
}

#[test]
fn three_cycle_is_found_with_its_sites() {
    // p -> p::x (inline path into a child), p::x -> q (use super::super), q -> p (use crate::p::Item).
    let g = graph(&[
        ("src/lib.rs", "pub mod p;\npub mod q;\nmod leaf;\n"),
        ("src/p/mod.rs", "mod x;\n\npub struct Item;\n\npub fn run() {\n    x::go();\n}\n"),
        ("src/p/x.rs", "use super::super::q::Q;\n\npub fn go() -> Q {\n    Q\n}\n"),
        ("src/q.rs", "// a comment line\nuse crate::p::Item;\nuse crate::leaf::L;\n\npub struct Q;\n"),
        ("src/leaf.rs", "pub struct L;\n"),
    ]);
    let cycles = g.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert_eq!(cycles[0].modules, ["p", "p::x", "q"]);
    assert_eq!(sites(&g, "p", "p::x"), ["src/p/mod.rs:6"]);
    assert_eq!(sites(&g, "p::x", "q"), ["src/p/x.rs:1"]);
    assert_eq!(sites(&g, "q", "p"), ["src/q.rs:2"]);
    // The leaf is not in it, and sits at the bottom (with the root, which only declares modules).
    assert_eq!(g.layers()[0], ["crate", "leaf"]);
}

#[test]
fn reexport_through_a_facade_is_not_a_cycle() {
    // api/mod.rs only declares and re-exports; the children reach each other through it (`super::B`,
    // `crate::api::A`), and another module uses the facade: the paths lead to the children, not to the facade.
    let g = graph(&[
        ("src/lib.rs", "pub mod api;\nmod user;\n\npub use api::A;\n"),
        ("src/api/mod.rs", "mod a;\nmod b;\n\npub use a::A;\npub(crate) use b::{helper, B};\n"),
        ("src/api/a.rs", "use super::B;\n\npub struct A(pub B);\n\npub fn make() -> A {\n    A(super::helper())\n}\n"),
        ("src/api/b.rs", "pub struct B;\n\npub fn helper() -> B {\n    B\n}\n"),
        ("src/user.rs", "use crate::api::A;\n\npub fn f() -> A {\n    crate::A(crate::api::B)\n}\n"),
    ]);
    assert!(g.cycles().is_empty(), "{}", render_cycles(&g));
    assert_eq!(sites(&g, "api::a", "api::b"), ["src/api/a.rs:1", "src/api/a.rs:6"]);
    assert!(g.edge("api::a", "api").is_none());
    assert_eq!(g.dependencies("user"), ["api::a", "api::b"]);
    assert_eq!(g.dependencies("api"), ["api::a", "api::b"]);
    assert_eq!(g.dependencies("crate"), ["api::a"]);
}

#[test]
fn parent_that_defines_what_its_children_use_is_a_cycle() {
    let g = graph(&[
        ("src/lib.rs", "mod api;\n"),
        ("src/api/mod.rs", "mod child;\n\npub use child::C;\n\npub struct Shared;\n"),
        ("src/api/child.rs", "use super::Shared;\n\npub struct C(Shared);\n"),
    ]);
    let cycles = g.cycles();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].modules, ["api", "api::child"]);
    assert_eq!(sites(&g, "api", "api::child"), ["src/api/mod.rs:3"]);
    assert_eq!(sites(&g, "api::child", "api"), ["src/api/child.rs:1"]);
}

#[test]
fn nested_use_trees_renames_globs_and_module_imports_make_edges() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod d;\nmod e;\nmod fm;\nmod g;\nmod m;\n"),
        ("src/a.rs", "pub mod c;\n\npub fn f() {}\n"),
        ("src/a/c.rs", "pub struct C;\n"),
        ("src/d.rs", "pub struct D;\n"),
        ("src/e.rs", "pub struct E;\n"),
        ("src/fm.rs", "pub fn run() {}\n"),
        ("src/g.rs", "pub trait T {}\n"),
        (
            "src/m.rs",
            "use crate::{\n    a::{f, c::C},\n    d::*,\n};\nuse crate::e::E as Renamed;\nuse crate::fm;\n\
             pub(crate) use crate::g::T as _;\n\npub fn x() {\n    fm::run();\n}\n",
        ),
    ]);
    assert!(g.cycles().is_empty());
    assert_eq!(sites(&g, "m", "a"), ["src/m.rs:2"]);
    assert_eq!(sites(&g, "m", "a::c"), ["src/m.rs:2"]);
    assert_eq!(sites(&g, "m", "d"), ["src/m.rs:3"]);
    assert_eq!(sites(&g, "m", "e"), ["src/m.rs:5"]);
    // `use crate::f;` brings a module into scope: the path written through it makes the edge.
    assert_eq!(sites(&g, "m", "fm"), ["src/m.rs:10"]);
    assert_eq!(sites(&g, "m", "g"), ["src/m.rs:7"]);
    assert_eq!(g.dependencies("m"), ["a", "a::c", "d", "e", "fm", "g"]);
}

#[test]
fn inline_paths_make_edges_to_the_deepest_module() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "pub mod inner;\n"),
        ("src/a/inner.rs", "pub enum K {\n    One,\n}\n\npub fn f() {}\n"),
        (
            "src/b.rs",
            "pub fn g() {\n    crate::a::inner::f();\n    let _k = crate::a::inner::K::One;\n    \
             let _v: Vec<crate::a::inner::K> = Vec::<u8>::new().into_iter().map(|_| self::h()).collect();\n}\n\
             fn h() -> crate::a::inner::K {\n    std::process::abort()\n}\n",
        ),
    ]);
    assert_eq!(sites(&g, "b", "a::inner"), ["src/b.rs:2", "src/b.rs:3", "src/b.rs:4", "src/b.rs:6"]);
    assert!(g.edge("b", "a").is_none());
    // `self::h` is b itself, `std::..` and `Vec::..` are outside the crate.
    assert_eq!(g.dependencies("b"), ["a::inner"]);
}

#[test]
fn comments_strings_and_literals_make_no_edges() {
    let g = graph(&[
        ("src/lib.rs", "//! crate::a::f() in an inner doc comment\nmod a;\nmod b;\n"),
        ("src/a.rs", "pub fn f() {}\n"),
        (
            "src/b.rs",
            r##"//! Uses crate::a::f, says the doc.
/// See [`crate::a::f`].
// use crate::a::f;
/* crate::a::f(); /* nested crate::a::f() */ crate::a::f() */
pub fn g<'a>(s: &'a str) -> (&'a str, &'static str, char, char, u8, &'static [u8]) {
    let _ = "crate::a::f()";
    let _ = r#"use crate::a::f; " crate::a::f()"#;
    let _ = "escaped \" crate::a::f()";
    (s, "", '"', '\'', b'"', b"crate::a::f")
}
"##,
        ),
    ]);
    assert!(g.dependencies("b").is_empty(), "{:?}", g.edge("b", "a"));
    assert!(g.dependencies("crate").is_empty());
}

#[test]
fn code_after_tricky_literals_is_still_read() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "pub fn f() {}\n"),
        (
            "src/b.rs",
            "fn g<'a>(x: &'a str) -> char {\n    let _ = (x, '\"', r\"\\\");\n    crate::a::f();\n    '{'\n}\n",
        ),
    ]);
    assert_eq!(sites(&g, "b", "a"), ["src/b.rs:3"]);
}

#[test]
fn module_files_path_attributes_and_inline_blocks_are_followed() {
    let g = graph(&[
        (
            "src/lib.rs",
            "mod a;\nmod d;\n#[path = \"elsewhere/e_file.rs\"]\nmod e;\nmod outer {\n    pub mod deep;\n}\n",
        ),
        ("src/a.rs", "mod b;\n"),
        ("src/a/b.rs", "mod c;\npub fn f() {\n    c::g();\n}\n"),
        ("src/a/b/c.rs", "pub fn g() {\n    crate::d::h();\n}\n"),
        ("src/d/mod.rs", "pub fn h() {\n    crate::e::i();\n}\n"),
        ("src/elsewhere/e_file.rs", "mod sub;\npub fn i() {\n    sub::j();\n}\n"),
        ("src/elsewhere/sub.rs", "pub fn j() {\n    crate::outer::deep::k();\n}\n"),
        ("src/outer/deep.rs", "pub fn k() {}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n"),
    ]);
    let mut modules = g.modules().to_vec();
    modules.sort();
    assert_eq!(
        modules,
        ["a", "a::b", "a::b::c", "crate", "d", "e", "e::sub", "outer", "outer::deep", "outer::deep::tests"]
    );
    assert!(g.warnings().is_empty(), "{:?}", g.warnings());
    assert_eq!(g.file_of("e::sub"), Some(Path::new("src/elsewhere/sub.rs")));
    assert_eq!(g.file_of("outer"), Some(Path::new("src/lib.rs")));
    assert_eq!(g.dependencies("a::b"), ["a::b::c"]);
    assert_eq!(g.dependencies("a::b::c"), ["d"]);
    assert_eq!(g.dependencies("d"), ["e"]);
    assert_eq!(g.dependencies("e"), ["e::sub"]);
    assert_eq!(g.dependencies("e::sub"), ["outer::deep"]);
    // The test module is a node that depends on its parent; nothing depends on it.
    assert_eq!(sites(&g, "outer::deep::tests", "outer::deep"), ["src/outer/deep.rs:5"]);
    assert!(g.cycles().is_empty());
    let layers = g.layers();
    assert_eq!(layers.last().unwrap(), &["a::b"]);
    assert_eq!(layers.len(), 6);
    assert!(layers[0].contains(&"outer::deep".to_string()), "{layers:?}");
}

#[test]
fn self_edges_visibility_paths_and_other_crates_are_not_edges() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\n"),
        ("src/a.rs", "pub mod b;\n"),
        (
            "src/a/b.rs",
            "use serde::Deserialize;\nuse ::std::fmt;\npub(in crate::a) fn f() {\n    self::g();\n    \
             crate::a::b::g();\n}\npub(super) fn g() {}\n",
        ),
    ]);
    assert!(g.dependencies("a::b").is_empty(), "{:?}", g.dependencies("a::b"));
    assert_eq!(g.edge_count(), 0);
}

#[test]
fn members_and_their_targets_are_found() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "Cargo.toml",
                "[workspace]\nresolver = \"2\"\nmembers = [\n    \"core\", # the core\n    \"tools/*\",\n]\n",
            ),
            ("core/Cargo.toml", "[package]\nname = \"my-core\"\n"),
            ("core/src/lib.rs", ""),
            ("core/src/bin/one.rs", "fn main() {}\n"),
            ("tools/cli/Cargo.toml", "[package]\nname = \"cli\"\n"),
            ("tools/cli/src/main.rs", "fn main() {}\n"),
            ("unlisted/Cargo.toml", "[package]\nname = \"unlisted\"\n"),
            ("unlisted/src/lib.rs", ""),
        ],
    );
    let roots = crate_roots(dir.path()).unwrap();
    let expected = [
        ("my-core", "core/src/lib.rs"),
        ("my-core (bin one)", "core/src/bin/one.rs"),
        ("cli", "tools/cli/src/main.rs"),
    ];
    let expected: Vec<CrateRoot> = expected
        .iter()
        .map(|(name, file)| CrateRoot { name: name.to_string(), root_file: dir.path().join(file) })
        .collect();
    assert_eq!(roots, expected);
    assert_eq!(super::find_workspace(&dir.path().join("core/src")).as_deref(), Some(dir.path()));
}
