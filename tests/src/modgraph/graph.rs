//! The module graph of one crate target: its modules, the edges between them with the sites that make each, the
//! cycles (strongly connected components of two or more modules) and the layers (leaves at the bottom).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::model::Site;
use super::parse::read_tree;
use super::resolve::edges;

/// The module graph of one crate target (a library, or one binary).
#[derive(Clone, Debug)]
pub struct CrateGraph {
    name: String,
    root_file: PathBuf,
    /// Module names (`crate`, `auth`, `auth::token`), root first.
    modules: Vec<String>,
    /// The file of each module.
    files: Vec<PathBuf>,
    /// (from, to) -> the sites that make the edge.
    edges: BTreeMap<(usize, usize), Vec<Site>>,
    warnings: Vec<String>,
}

/// One edge of a module graph and the sites (in source order) that make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The module whose files name the path.
    pub from: String,
    /// The module the path leads to.
    pub to: String,
    /// Where the paths are written; never empty.
    pub sites: Vec<Site>,
}

/// A strongly connected component of two or more modules: every one reaches every other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// Its modules, sorted by name.
    pub modules: Vec<String>,
    /// The edges between its modules, sorted by (from, to).
    pub edges: Vec<Edge>,
}

impl CrateGraph {
    /// Read the crate target whose root file is `root_file` (`src/lib.rs`, `src/main.rs`, `src/bin/x.rs`) and
    /// build its graph; `name` labels it, and sites name files relative to `display_base` where they lie below it.
    /// Fails with the I/O error when the root file cannot be read; a missing module file becomes a warning.
    pub fn read(name: &str, root_file: &Path, display_base: &Path) -> io::Result<CrateGraph> {
        let tree = read_tree(root_file, display_base)?;
        let edges = edges(&tree);
        Ok(CrateGraph {
            name: name.to_string(),
            root_file: root_file.strip_prefix(display_base).unwrap_or(root_file).to_path_buf(),
            modules: tree.modules.iter().map(|m| m.display_name()).collect(),
            files: tree.modules.iter().map(|m| m.file.clone()).collect(),
            edges,
            warnings: tree.warnings,
        })
    }

    /// The label given to [`CrateGraph::read`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root file, relative to the display base.
    pub fn root_file(&self) -> &Path {
        &self.root_file
    }

    /// The module names, root (`crate`) first, then in the order they were found.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// The file that holds `module` (inline modules: the file of the block), if there is such a module.
    pub fn file_of(&self, module: &str) -> Option<&Path> {
        self.index(module).map(|i| self.files[i].as_path())
    }

    /// Declared module files that could not be read.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The direct dependencies of `module`, sorted by name (empty for an unknown module).
    pub fn dependencies(&self, module: &str) -> Vec<&str> {
        let Some(from) = self.index(module) else { return Vec::new() };
        let mut deps: Vec<&str> =
            self.edges.keys().filter(|(f, _)| *f == from).map(|(_, t)| self.modules[*t].as_str()).collect();
        deps.sort_unstable();
        deps
    }

    /// The edge `from -> to`, if there is one.
    pub fn edge(&self, from: &str, to: &str) -> Option<Edge> {
        let key = (self.index(from)?, self.index(to)?);
        self.edges.get(&key).map(|sites| self.edge_at(key, sites))
    }

    /// The cycles, sorted by their first module.
    pub fn cycles(&self) -> Vec<Cycle> {
        let comp = self.components();
        let count = comp.iter().copied().max().map_or(0, |c| c + 1);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (m, c) in comp.iter().enumerate() {
            members[*c].push(m);
        }
        let mut cycles: Vec<Cycle> = members
            .into_iter()
            .filter(|ms| ms.len() > 1)
            .map(|ms| {
                let mut modules: Vec<String> = ms.iter().map(|&m| self.modules[m].clone()).collect();
                modules.sort();
                let mut edges: Vec<Edge> = self
                    .edges
                    .iter()
                    .filter(|((f, t), _)| ms.contains(f) && ms.contains(t))
                    .map(|(key, sites)| self.edge_at(*key, sites))
                    .collect();
                edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
                Cycle { modules, edges }
            })
            .collect();
        cycles.sort_by(|a, b| a.modules.cmp(&b.modules));
        cycles
    }

    /// The modules in layers, bottom first: layer 0 holds the leaves (no dependencies), and each module sits one
    /// layer above the highest of its dependencies; the modules of a cycle share a layer. Each layer sorted by name.
    pub fn layers(&self) -> Vec<Vec<String>> {
        let comp = self.components();
        let count = comp.iter().copied().max().map_or(0, |c| c + 1);
        // Tarjan numbers components in reverse topological order: every edge between two components goes to
        // one numbered lower, so one pass in ascending order sees each component's dependencies first.
        let mut level = vec![0usize; count];
        for c in 0..count {
            for &(f, t) in self.edges.keys() {
                if comp[f] == c && comp[t] != c {
                    level[c] = level[c].max(level[comp[t]] + 1);
                }
            }
        }
        let height = level.iter().copied().max().map_or(0, |l| l + 1);
        let mut layers = vec![Vec::new(); height];
        for (m, c) in comp.iter().enumerate() {
            layers[level[*c]].push(self.modules[m].clone());
        }
        for layer in &mut layers {
            layer.sort();
        }
        layers
    }

    fn index(&self, module: &str) -> Option<usize> {
        self.modules.iter().position(|m| m == module)
    }

    fn edge_at(&self, (from, to): (usize, usize), sites: &[Site]) -> Edge {
        Edge { from: self.modules[from].clone(), to: self.modules[to].clone(), sites: sites.to_vec() }
    }

    /// The strongly connected component of each module (Tarjan): numbered in reverse topological order.
    fn components(&self) -> Vec<usize> {
        let n = self.modules.len();
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(f, t) in self.edges.keys() {
            out[f].push(t);
        }
        let mut t = Tarjan {
            out,
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            comp: vec![0; n],
            comps: 0,
        };
        for v in 0..n {
            if t.index[v].is_none() {
                t.visit(v);
            }
        }
        t.comp
    }
}

struct Tarjan {
    out: Vec<Vec<usize>>,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
    comp: Vec<usize>,
    comps: usize,
}

impl Tarjan {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for k in 0..self.out[v].len() {
            let w = self.out[v][k];
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                self.comp[w] = self.comps;
                if w == v {
                    break;
                }
            }
            self.comps += 1;
        }
    }
}
