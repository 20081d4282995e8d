//! A module-graph checker: reads each crate's module tree from its root file (following `mod x;` and inline
//! `mod x { .. }`), and finds the edges between modules: an edge `A -> B` when a file of module `A` names a path
//! into `B` (`use crate::..`, `use super::..`, `use self::..`, brace trees, renames, globs, and paths in code such
//! as `crate::a::f()` or `super::X`), each resolved to the deepest module it names and past `use` re-exports to the
//! module that defines the item. Comments, doc comments and string literals name nothing.
//!
//! [`CrateGraph::cycles`] lists the strongly connected components (import cycles); [`CrateGraph::layers`] the
//! modules bottom-up. The `module_graph` binary runs it on every crate of the workspace.
//!
//! What it does not do: expand macros (a path made by a macro is unseen, a path in a `macro_rules!` body counts
//! for the module that defines the macro), evaluate `cfg` (every module counts), or follow a glob import to the
//! single item used through it (the glob is an edge to its module).

mod graph;
mod lexer;
mod model;
mod parse;
mod report;
mod resolve;
mod workspace;

#[cfg(test)]
mod tests;

pub use graph::{CrateGraph, Cycle, Edge};
pub use model::Site;
pub use report::{render_cycles, render_layers};
pub use workspace::{crate_roots, find_workspace, CrateRoot};
