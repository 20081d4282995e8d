//! Reads a crate's module tree from its root file: follows `mod x;` to `x.rs` or `x/mod.rs` (or its `#[path]`),
//! reads inline `mod x { .. }` blocks, and records per module the names it defines, its `use` leaves and the paths
//! its code names.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::lexer::{lex, Tok, Token};
use super::model::{Import, Module, ModuleTree, PathRef, Site};

/// Words after `fn`, `const`, `static` that are not the item's name.
const NOT_A_NAME: &[&str] = &["fn", "unsafe", "async", "extern", "mut", "_"];

/// A file waiting to be read: the module it holds, its path, and the directory of its `mod x;` children.
struct Pending {
    module: usize,
    file: PathBuf,
    child_dir: PathBuf,
}

/// The module tree of the crate whose root file is `root_file`; file names in sites are made relative to
/// `display_base` where they lie below it. Fails when the root file cannot be read; a declared module file that
/// cannot be read becomes a warning (and an empty module).
pub(crate) fn read_tree(root_file: &Path, display_base: &Path) -> io::Result<ModuleTree> {
    let mut tree = ModuleTree::default();
    let shown = |p: &Path| p.strip_prefix(display_base).unwrap_or(p).to_path_buf();
    tree.modules.push(Module { file: shown(root_file), ..Module::default() });
    let dir_of = |p: &Path| p.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut queue = vec![Pending { module: 0, file: root_file.to_path_buf(), child_dir: dir_of(root_file) }];
    while let Some(job) = queue.pop() {
        let src = match fs::read_to_string(&job.file) {
            Ok(src) => src,
            Err(e) if job.module == 0 => return Err(e),
            Err(e) => {
                tree.warnings.push(format!("{}: {e}", job.file.display()));
                continue;
            }
        };
        let toks = lex(&src);
        let mut parser = Parser {
            toks: &toks,
            pos: 0,
            file: job.file.clone(),
            shown: shown(&job.file),
            base: display_base.to_path_buf(),
            tree: &mut tree,
            queue: &mut queue,
        };
        parser.body(job.module, &job.child_dir, false);
    }
    Ok(tree)
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    /// The file being read, as found on disk.
    file: PathBuf,
    /// The same, as shown in sites.
    shown: PathBuf,
    /// What is stripped from file names to show them.
    base: PathBuf,
    tree: &'a mut ModuleTree,
    queue: &'a mut Vec<Pending>,
}

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<&Token> {
        self.toks.get(self.pos + k)
    }

    fn peek_is(&self, k: usize, c: char) -> bool {
        self.peek(k).is_some_and(|t| t.is(c))
    }

    fn peek_ident(&self, k: usize) -> Option<String> {
        self.peek(k).and_then(Token::ident).map(str::to_string)
    }

    fn site(&self, line: usize) -> Site {
        Site { file: self.shown.clone(), line }
    }

    /// The items of module `m` up to the end of the file, or (`inline`) up to the `}` that closes its block.
    fn body(&mut self, m: usize, child_dir: &Path, inline: bool) {
        let mut depth = 0usize;
        let mut path_attr: Option<String> = None;
        let mut macro_export = false;
        while let Some(t) = self.peek(0) {
            if t.is('#') {
                if let Some((path, export)) = self.attribute(m, depth) {
                    path_attr = path.or(path_attr);
                    macro_export |= export;
                }
                continue;
            }
            if t.is('{') || t.is(';') {
                depth += usize::from(t.is('{'));
                self.pos += 1;
                path_attr = None;
                macro_export = false;
                continue;
            }
            if t.is('}') {
                self.pos += 1;
                if depth == 0 {
                    if inline {
                        return;
                    }
                    continue;
                }
                depth -= 1;
                continue;
            }
            match t.ident() {
                Some("mod") if self.peek(1).and_then(Token::ident).is_some() => {
                    self.module(m, child_dir, inline, path_attr.take());
                    continue;
                }
                Some("use") => {
                    self.pos += 1;
                    self.use_decl(m);
                    continue;
                }
                Some("fn" | "struct" | "enum" | "trait" | "type" | "const" | "static" | "union") if depth == 0 => {
                    let skip_mut = usize::from(self.peek(1).is_some_and(|t| t.is_word("mut")));
                    if let Some(name) = self.peek_ident(1 + skip_mut) {
                        if !NOT_A_NAME.contains(&name.as_str()) {
                            self.tree.modules[m].items.insert(name);
                        }
                    }
                    self.pos += 1;
                    continue;
                }
                Some("macro_rules") if self.peek_is(1, '!') => {
                    if let Some(name) = self.peek_ident(2) {
                        if macro_export {
                            self.tree.exported_macros.insert(name.clone(), m);
                        }
                        self.tree.modules[m].items.insert(name);
                    }
                    self.pos += 3;
                    continue;
                }
                _ => {}
            }
            self.path(m);
        }
    }

    /// An attribute at `#`: steps over it, records the paths in it, and returns its `path = ".."` value and whether
    /// it is `macro_export` (`None` when `#` starts no attribute).
    fn attribute(&mut self, m: usize, depth: usize) -> Option<(Option<String>, bool)> {
        let open = if self.peek_is(1, '!') { 2 } else { 1 };
        if !self.peek_is(open, '[') {
            self.pos += 1;
            return None;
        }
        let start = self.pos + open + 1;
        let mut end = start;
        let mut nesting = 1usize;
        while let Some(t) = self.toks.get(end) {
            if t.is('[') {
                nesting += 1;
            } else if t.is(']') {
                nesting -= 1;
                if nesting == 0 {
                    break;
                }
            }
            end += 1;
        }
        let inner = &self.toks[start..end.min(self.toks.len())];
        let path = match inner {
            [Token { tok: Tok::Ident(word), .. }, eq, Token { tok: Tok::Str(p), .. }]
                if word == "path" && eq.is('=') =>
            {
                Some(p.clone())
            }
            _ => None,
        };
        let export = depth == 0 && matches!(inner, [t] if t.is_word("macro_export"));
        self.pos = start;
        while self.pos < end {
            self.path(m);
        }
        self.pos = end + 1;
        Some((path, export))
    }

    /// `mod name;` or `mod name { .. }` at `mod`.
    fn module(&mut self, m: usize, child_dir: &Path, inline: bool, path_attr: Option<String>) {
        let Some(name) = self.peek_ident(1) else { return };
        let block = self.peek_is(2, '{');
        self.pos += 3;
        let mut path = self.tree.modules[m].path.clone();
        path.push(name.clone());
        let child = self.tree.modules.len();
        let mut module = Module { path, file: self.shown.clone(), parent: Some(m), ..Module::default() };
        self.tree.modules[m].children.insert(name.clone(), child);
        if block {
            self.tree.modules.push(module);
            self.body(child, &child_dir.join(&name), true);
            return;
        }
        let (file, own_dir) = match path_attr {
            Some(p) => {
                // Relative to the file's directory, or to the inline module's directory inside a block; the file
                // then holds its children beside it, like a `mod.rs`.
                let base = if inline { child_dir.to_path_buf() } else { self.dir() };
                let file = base.join(p);
                let own = file.parent().map(Path::to_path_buf).unwrap_or_default();
                (file, own)
            }
            None => {
                let flat = child_dir.join(format!("{name}.rs"));
                if flat.is_file() {
                    (flat, child_dir.join(&name))
                } else {
                    (child_dir.join(&name).join("mod.rs"), child_dir.join(&name))
                }
            }
        };
        module.file = file.strip_prefix(&self.base).unwrap_or(&file).to_path_buf();
        self.tree.modules.push(module);
        self.queue.push(Pending { module: child, file, child_dir: own_dir });
    }

    /// The directory of the file being read.
    fn dir(&self) -> PathBuf {
        self.file.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// A path starting at the current token (or any other token, which is stepped over). Paths of two or more
    /// segments are recorded, except the one in `pub(in path)` and global ones (`::std::x`).
    fn path(&mut self, m: usize) {
        let Some(first) = self.peek_ident(0) else {
            self.pos += 1;
            return;
        };
        let start = self.pos;
        let line = self.toks[start].line;
        let mut segs = vec![first];
        self.pos += 1;
        while self.peek(0).is_some_and(|t| t.tok == Tok::PathSep) {
            match self.peek_ident(1) {
                Some(seg) => {
                    segs.push(seg);
                    self.pos += 2;
                }
                None => break,
            }
        }
        let before = |k: usize| start.checked_sub(k).and_then(|i| self.toks.get(i));
        let global = before(1).is_some_and(|t| t.tok == Tok::PathSep);
        let visibility = before(1).is_some_and(|t| t.is_word("in")) && before(2).is_some_and(|t| t.is('('));
        if segs.len() >= 2 && !global && !visibility {
            let site = self.site(line);
            self.tree.modules[m].refs.push(PathRef { segs, site });
        }
    }

    /// A `use` declaration after `use`, up to its `;`: one import per leaf of its tree.
    fn use_decl(&mut self, m: usize) {
        let mut leaves = Vec::new();
        self.use_tree(Vec::new(), &mut leaves);
        while self.peek(0).is_some_and(|t| !t.is(';')) {
            self.pos += 1;
        }
        self.pos += 1;
        self.tree.modules[m].imports.extend(leaves);
    }

    /// One use tree below `prefix`: `a::b`, `a::b as c`, `a::*`, `a::{..}`, `{..}`, `*`.
    fn use_tree(&mut self, prefix: Vec<String>, out: &mut Vec<Import>) {
        let mut segs = prefix;
        if self.peek(0).is_some_and(|t| t.tok == Tok::PathSep) {
            if segs.is_empty() {
                segs.push("::".to_string());
            }
            self.pos += 1;
        }
        let mut line = self.peek(0).map_or(0, |t| t.line);
        loop {
            if self.peek_is(0, '{') {
                self.pos += 1;
                while let Some(t) = self.peek(0) {
                    if t.is('}') || t.is(';') {
                        break;
                    }
                    let before = self.pos;
                    self.use_tree(segs.clone(), out);
                    if self.peek_is(0, ',') {
                        self.pos += 1;
                    }
                    if self.pos == before {
                        self.pos += 1;
                    }
                }
                if self.peek_is(0, '}') {
                    self.pos += 1;
                }
                return;
            }
            if self.peek_is(0, '*') {
                self.pos += 1;
                out.push(Import { name: None, segs, site: self.site(line) });
                return;
            }
            let Some(seg) = self.peek_ident(0) else { return };
            line = self.toks[self.pos].line;
            segs.push(seg);
            self.pos += 1;
            if self.peek(0).is_some_and(|t| t.tok == Tok::PathSep) {
                self.pos += 1;
                continue;
            }
            break;
        }
        let mut alias = None;
        if self.peek(0).is_some_and(|t| t.is_word("as")) {
            alias = self.peek_ident(1);
            self.pos += 2;
        }
        if segs.last().is_some_and(|s| s == "self") {
            segs.pop();
        }
        let name = alias.or_else(|| segs.last().cloned());
        if let Some(name) = name {
            out.push(Import { name: Some(name), segs, site: self.site(line) });
        }
    }
}
