//! Resolves the paths a module names to the modules they lead to, and so finds the edges of the graph: `use`
//! leaves and paths in code, each resolved to the deepest module it names, past `use` re-exports (a facade
//! `mod.rs` that re-exports a child's item is not where the path leads: the child is).

use std::collections::BTreeMap;

use super::model::{ModuleTree, Site};

/// How deep re-exports are followed before giving up (re-export loops do not compile, but the reader is not rustc).
const MAX_DEPTH: usize = 32;

/// Where a path leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// The module itself.
    Module(usize),
    /// An item defined in the module (or something inside such an item: a variant, an associated item).
    Item(usize),
    /// Outside the crate: another crate, the prelude, or a name the reader does not know.
    External,
    /// Not a name of that module (as far as the reader saw).
    Unknown,
}

/// The edges of the module graph of `tree`: (from, to) -> the sites that make it, in source order. A module's
/// edges to itself are left out; so are `use` leaves that bring a module (not an item) into scope, since the paths
/// written through that name make the edges.
pub(crate) fn edges(tree: &ModuleTree) -> BTreeMap<(usize, usize), Vec<Site>> {
    let r = Resolver { tree };
    let mut out: BTreeMap<(usize, usize), Vec<Site>> = BTreeMap::new();
    let mut add = |from: usize, to: usize, site: &Site| {
        if from != to {
            out.entry((from, to)).or_default().push(site.clone());
        }
    };
    for (m, module) in tree.modules.iter().enumerate() {
        for import in &module.imports {
            match (r.resolve(m, &import.segs, 0), &import.name) {
                (Found::Item(to), _) | (Found::Module(to), None) => add(m, to, &import.site),
                _ => {}
            }
        }
        for path in &module.refs {
            if let Found::Item(to) | Found::Module(to) = r.resolve(m, &path.segs, 0) {
                add(m, to, &path.site);
            }
        }
    }
    for sites in out.values_mut() {
        sites.sort();
        sites.dedup();
    }
    out
}

struct Resolver<'a> {
    tree: &'a ModuleTree,
}

impl Resolver<'_> {
    /// Where the path `segs`, written in module `scope`, leads.
    fn resolve(&self, scope: usize, segs: &[String], depth: usize) -> Found {
        if depth > MAX_DEPTH {
            return Found::External;
        }
        let Some(first) = segs.first() else { return Found::Unknown };
        let (mut cur, mut rest) = match first.as_str() {
            "::" => return Found::External,
            "crate" => (0, &segs[1..]),
            "self" => (scope, &segs[1..]),
            "super" => (scope, segs),
            name => match self.lookup(scope, name, depth) {
                Found::Module(m) => (m, &segs[1..]),
                Found::Item(m) => return Found::Item(m),
                Found::External | Found::Unknown => return Found::External,
            },
        };
        while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
            match self.tree.modules[cur].parent {
                Some(p) => cur = p,
                None => return Found::External,
            }
            rest = tail;
        }
        for seg in rest {
            match self.lookup(cur, seg, depth) {
                Found::Module(m) => cur = m,
                Found::Item(m) => return Found::Item(m),
                Found::External => return Found::External,
                // Something the reader did not see defined (a macro-made item, say): it is in `cur`.
                Found::Unknown => return Found::Item(cur),
            }
        }
        Found::Module(cur)
    }

    /// What `name` is in module `m`: a child module, an item it defines, a name it imports (followed to where that
    /// leads), or a name one of its glob imports brings.
    fn lookup(&self, m: usize, name: &str, depth: usize) -> Found {
        if depth > MAX_DEPTH {
            return Found::Unknown;
        }
        let module = &self.tree.modules[m];
        if let Some(&child) = module.children.get(name) {
            return Found::Module(child);
        }
        if module.items.contains(name) {
            return Found::Item(m);
        }
        if m == 0 {
            if let Some(&defined_in) = self.tree.exported_macros.get(name) {
                return Found::Item(defined_in);
            }
        }
        if let Some(import) = module.imports.iter().find(|i| i.name.as_deref() == Some(name)) {
            return match self.resolve(m, &import.segs, depth + 1) {
                Found::Unknown => Found::External,
                found => found,
            };
        }
        for glob in module.imports.iter().filter(|i| i.name.is_none()) {
            if let Found::Module(g) = self.resolve(m, &glob.segs, depth + 1) {
                if g == m {
                    continue;
                }
                if let found @ (Found::Module(_) | Found::Item(_)) = self.lookup(g, name, depth + 1) {
                    return found;
                }
            }
        }
        Found::Unknown
    }
}
