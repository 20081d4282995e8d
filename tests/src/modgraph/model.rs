//! The module tree of one crate as read from its files: each module's children, the names it defines, its `use`
//! imports and the paths its code names. A leaf: the reader fills it in, the resolver and the graph read it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

/// Where a path is named: a source file (as given to the checker) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// The file, relative to the workspace root when read through [`super::CrateGraph::read`].
    pub file: PathBuf,
    /// The line, counted from 1.
    pub line: usize,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One `use` leaf: `use a::b::C as D;` is the name `D` for the path `a::b::C`; `use a::b::*;` a glob of `a::b`.
#[derive(Clone, Debug)]
pub(crate) struct Import {
    /// The name it brings into scope (`_` for `as _`), or `None` for a glob.
    pub(crate) name: Option<String>,
    /// The path, as written (`crate`, `self`, `super` included; a trailing `self` removed).
    pub(crate) segs: Vec<String>,
    /// Where it is written.
    pub(crate) site: Site,
}

/// A path of two or more segments named in code (`crate::a::f()`, `super::X`, `child::Y::new()`).
#[derive(Clone, Debug)]
pub(crate) struct PathRef {
    /// The segments up to the first generic argument list.
    pub(crate) segs: Vec<String>,
    /// Where it is written.
    pub(crate) site: Site,
}

/// One module: a file or an inline `mod x { .. }` block.
#[derive(Clone, Debug, Default)]
pub(crate) struct Module {
    /// Its path from the crate root (`auth::token`); empty for the root.
    pub(crate) path: Vec<String>,
    /// The file it is written in.
    pub(crate) file: PathBuf,
    /// Its parent; `None` for the root.
    pub(crate) parent: Option<usize>,
    /// Its child modules by name.
    pub(crate) children: BTreeMap<String, usize>,
    /// The items it defines at its top level (functions, types, traits, constants, statics, macros).
    pub(crate) items: BTreeSet<String>,
    /// Its `use` declarations, one per leaf of each tree (those inside function bodies too).
    pub(crate) imports: Vec<Import>,
    /// The paths its code names.
    pub(crate) refs: Vec<PathRef>,
}

impl Module {
    /// `crate` for the root, else the path joined by `::`.
    pub(crate) fn display_name(&self) -> String {
        if self.path.is_empty() {
            "crate".to_string()
        } else {
            self.path.join("::")
        }
    }
}

/// A crate's modules; index 0 is the root.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModuleTree {
    /// The modules, root first.
    pub(crate) modules: Vec<Module>,
    /// `#[macro_export]` macros (which live at the crate root) and the module that defines each.
    pub(crate) exported_macros: BTreeMap<String, usize>,
    /// Declared module files that could not be read.
    pub(crate) warnings: Vec<String>,
}
