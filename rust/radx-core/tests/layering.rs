//! The files of radx-core (and radx-capi) import one another one way only: no file reaches,
//! through any chain of imports, a file that imports it. This test reads the sources, builds
//! the file-level import graph and fails, naming every loop, if the graph has one.
//! `cargo test --test layering -- --nocapture` prints the graph as floors: a file's imports
//! all sit on lower floors (see docs/internals.md); with `RADX_LAYERING_EDGES=1` it also
//! lists every import with the line that makes it.
//!
//! What counts as an edge from a file: every path in a `use` (including `pub use`
//! re-exports, so reaching a file through `lib.rs` or a `mod.rs` that re-exports it is an
//! edge to that `lib.rs` or `mod.rs`, which imports the file in turn), and every inline path
//! that starts with `crate::`, `super::`, `self::`, a module the file declares (`mod gen;`
//! ... `gen::generate(..)`) or a name a `use` brought in (`use crate::ir;` ...
//! `ir::llvm::tool(..)`; a glob `use super::*` brings the parent's modules). A path
//! resolves to the deepest file it names: `crate::reverse::tape::X` to `reverse/tape.rs`,
//! `crate::reverse::X` to `reverse/mod.rs`. A method that a file adds to a type of another
//! directory (`impl Engine { fn forward .. }` in forward/gen.rs) is an edge from the files
//! that reach the type and call it (see `add_method_edges`). A `mod foo;` declaration alone
//! is not an edge: it only says where the file is. Comments and string literals are
//! skipped, so doc links do not count; unit tests (`#[cfg(test)] mod tests { .. }`) are
//! left out: they may use anything, like the tests under tests/.
//!
//! What it does not see: calls between the methods of one type split over the files of one
//! directory (the generators' `ForwardFn` and `RevGen`), and the recursion over callees (a
//! generator asks the engine for a callee's derivative, which runs the generator again).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Replaces comments, string and character literals by spaces, keeping line breaks.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && is_ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            // A raw string: r"..", r#".."#, br"..".
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            while j < c.len() && !(c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#'))) {
                j += 1;
            }
            let end = (j + 1 + hashes).min(c.len());
            (i..end).for_each(|k| blank(&mut out, c[k]));
            i = end;
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && (c.get(i + 1) == Some(&'\\') || c.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{..}'); anything else is a lifetime.
            let mut j = i + 2;
            while j < c.len() && c[j] != '\'' {
                j += 1;
            }
            (i..=j.min(c.len() - 1)).for_each(|k| blank(&mut out, c[k]));
            i = j + 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Path, // `::`
    Punct(char),
}

fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        if c[i] == '\n' {
            line += 1;
            i += 1;
        } else if c[i].is_whitespace() {
            i += 1;
        } else if c[i].is_alphanumeric() || c[i] == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[s..i].iter().collect()), line));
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(c[i]), line));
            i += 1;
        }
    }
    out
}

/// One source tree: files by module path (`["reverse", "gen"]` for `reverse/gen.rs`).
struct Crate {
    name: &'static str,
    src: PathBuf,
    files: BTreeMap<Vec<String>, String>,
}

impl Crate {
    fn read(name: &'static str, src: PathBuf) -> Crate {
        let mut files = BTreeMap::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().map_or(false, |x| x == "rs") {
                    let rel = p.strip_prefix(&src).unwrap().with_extension("");
                    let mut m: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
                    if m.last().map_or(false, |l| l == "mod") || m == ["lib"] || m == ["main"] {
                        m.pop();
                    }
                    files.insert(m, p.strip_prefix(&src).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        Crate { name, src, files }
    }

    /// The file a crate-relative path lands in: the deepest module it names that is a file.
    fn resolve(&self, path: &[String]) -> &str {
        let mut m: Vec<String> = Vec::new();
        for seg in path {
            m.push(seg.clone());
            if !self.files.contains_key(&m) {
                m.pop();
                break;
            }
        }
        &self.files[&m]
    }

    /// Each file's imports: target file -> the first line and path that import it.
    fn edges(&self) -> Edges {
        let code: BTreeMap<&String, Vec<(Tok, usize)>> =
            self.files.values().map(|f| (f, without_tests(tokens(&strip(&std::fs::read_to_string(self.src.join(f)).unwrap()))))).collect();
        // Modules each file declares as files (`mod foo;`): their names start relative
        // paths there, and a glob import of the file brings them into scope.
        let children: BTreeMap<&String, BTreeSet<String>> = code.iter().map(|(f, toks)| (*f, declared_modules(toks))).collect();
        let mut all = Edges::new();
        for (module, file) in &self.files {
            let toks = &code[file];
            let ident = |k: usize| match toks.get(k) {
                Some((Tok::Ident(s), _)) => Some(s.as_str()),
                _ => None,
            };
            let mut uses: Vec<(Vec<String>, Vec<String>, Binding, usize)> = Vec::new(); // (scope, path, binding, line)
            let mut inline_paths: Vec<(Vec<String>, Vec<String>, usize)> = Vec::new();
            let mut inline: Vec<(String, usize)> = Vec::new(); // inline modules and their brace depth
            let mut depth = 0;
            let mut k = 0;
            while k < toks.len() {
                let scope = || module.iter().cloned().chain(inline.iter().map(|(n, _)| n.clone())).collect::<Vec<_>>();
                match &toks[k].0 {
                    Tok::Punct('{') => depth += 1,
                    Tok::Punct('}') => {
                        depth -= 1;
                        if inline.last().map_or(false, |(_, d)| *d == depth) {
                            inline.pop();
                        }
                    }
                    Tok::Ident(s) if s == "mod" && toks.get(k + 2).map(|t| &t.0) == Some(&Tok::Punct('{')) => {
                        inline.push((ident(k + 1).unwrap().to_string(), depth));
                    }
                    Tok::Ident(s) if s == "use" => {
                        let line = toks[k].1;
                        let mut paths = Vec::new();
                        k = use_tree(toks, k + 1, Vec::new(), &mut paths);
                        let sc = scope();
                        uses.extend(paths.into_iter().map(|(p, b)| (sc.clone(), p, b, line)));
                        continue;
                    }
                    Tok::Ident(_) if toks.get(k + 1).map(|t| &t.0) == Some(&Tok::Path) && (k == 0 || toks[k - 1].0 != Tok::Path) => {
                        let line = toks[k].1;
                        let mut p = Vec::new();
                        while let Some(seg) = ident(k) {
                            p.push(seg.to_string());
                            if toks.get(k + 1).map(|t| &t.0) != Some(&Tok::Path) {
                                break;
                            }
                            k += 2;
                        }
                        inline_paths.push((scope(), p, line));
                        continue;
                    }
                    _ => {}
                }
                k += 1;
            }
            // Names `use` brought into the file (`use crate::rules::{self, memory}` makes
            // `memory::allocator` a path into rules/memory.rs). Twice, for a `use` whose
            // path starts with a name an earlier one brought.
            let own = &children[file];
            let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for _ in 0..2 {
                for (scope, p, binding, _) in &uses {
                    let Some(abs) = absolute(scope, own, &aliases, p) else { continue };
                    match binding {
                        Binding::Name(n) => {
                            aliases.insert(n.clone(), abs);
                        }
                        Binding::Glob => {
                            if let Some(target) = self.files.get(&abs) {
                                for c in &children[target] {
                                    aliases.insert(c.clone(), abs.iter().cloned().chain([c.clone()]).collect());
                                }
                            }
                        }
                        Binding::Hidden => {}
                    }
                }
            }
            let mut out: BTreeMap<String, (usize, String)> = BTreeMap::new();
            let found = uses.iter().map(|(s, p, _, l)| (s, p, *l)).chain(inline_paths.iter().map(|(s, p, l)| (s, p, *l)));
            for (scope, p, line) in found {
                let Some(abs) = absolute(scope, own, &aliases, p) else { continue };
                let target = self.resolve(&abs).to_string();
                if &target != file {
                    out.entry(target).or_insert((line, p.join("::")));
                }
            }
            all.insert(file.clone(), out);
        }
        self.add_method_edges(&code, &mut all);
        all
    }

    /// Methods a file adds to a type of another directory (`impl Engine { fn forward .. }`
    /// in forward/gen.rs) are imports too: a file that can name the type (it reaches the
    /// type's file) and calls such a method (`.forward(&req)`) depends on the file that
    /// adds it, though it never names that file. Calls between files of the adding file's
    /// own directory are left out: there one type's methods are split over several files
    /// (the generators' `ForwardFn` and `RevGen`) and call each other freely.
    fn add_method_edges(&self, code: &BTreeMap<&String, Vec<(Tok, usize)>>, edges: &mut Edges) {
        let defined: BTreeMap<&String, BTreeSet<String>> = code.iter().map(|(f, t)| (*f, defined_types(t))).collect();
        let dir = |f: &str| Path::new(f).parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let mut added = Vec::new(); // (caller, adding file, method)
        for (f, toks) in code {
            for (ty, methods) in inherent_impls(toks) {
                if defined[f].contains(&ty) {
                    continue;
                }
                // The type's file: one the adding file imports that defines it.
                let Some(home) = edges[*f].keys().find(|d| defined[d].contains(&ty)).cloned() else { continue };
                if dir(&home) == dir(f) {
                    continue;
                }
                for (g, gt) in code {
                    if *g == *f || dir(g) == dir(f) || !reaches(edges, g, &home) {
                        continue;
                    }
                    for (m, takes_args) in &methods {
                        let called = gt.windows(4).any(|w| {
                            w[0].0 == Tok::Punct('.') && w[1].0 == Tok::Ident(m.clone()) && w[2].0 == Tok::Punct('(') && (!takes_args || w[3].0 != Tok::Punct(')'))
                        });
                        if called {
                            let line = gt.iter().position(|t| t.0 == Tok::Ident(m.clone())).map(|i| gt[i].1).unwrap_or(0);
                            added.push(((*g).clone(), (*f).clone(), format!("{ty}::{m} (a method {f} adds)"), line));
                        }
                    }
                }
            }
        }
        for (g, f, what, line) in added {
            edges.get_mut(&g).unwrap().entry(f).or_insert((line, what));
        }
    }
}

type Edges = BTreeMap<String, BTreeMap<String, (usize, String)>>;

/// What a `use` brings into scope: a name, a module's items (`*`), or nothing (`as _`).
#[derive(Clone, Debug, PartialEq)]
enum Binding {
    Name(String),
    Glob,
    Hidden,
}

/// The tokens without `#[cfg(test)] mod .. { .. }` blocks.
fn without_tests(toks: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let mut out = Vec::with_capacity(toks.len());
    let mut k = 0;
    while k < toks.len() {
        if toks[k].0 == Tok::Punct('#') && is_cfg_test(&toks[k..]) {
            // Skip to the module's opening brace, then to its matching close.
            while k < toks.len() && toks[k].0 != Tok::Punct('{') && toks[k].0 != Tok::Punct(';') {
                k += 1;
            }
            if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct('{')) {
                let mut depth = 0;
                while k < toks.len() {
                    match toks[k].0 {
                        Tok::Punct('{') => depth += 1,
                        Tok::Punct('}') => depth -= 1,
                        _ => {}
                    }
                    k += 1;
                    if depth == 0 {
                        break;
                    }
                }
            } else {
                k += 1;
            }
            continue;
        }
        out.push(toks[k].clone());
        k += 1;
    }
    out
}

/// `mod foo;` declarations (a module in its own file).
fn declared_modules(toks: &[(Tok, usize)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for k in 0..toks.len().saturating_sub(2) {
        if toks[k].0 == Tok::Ident("mod".into()) && toks[k + 2].0 == Tok::Punct(';') {
            if let Tok::Ident(n) = &toks[k + 1].0 {
                out.insert(n.clone());
            }
        }
    }
    out
}

/// Names of the structs, enums and unions a file defines.
fn defined_types(toks: &[(Tok, usize)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for w in toks.windows(2) {
        if let (Tok::Ident(kw), Tok::Ident(name)) = (&w[0].0, &w[1].0) {
            if kw == "struct" || kw == "enum" || kw == "union" {
                out.insert(name.clone());
            }
        }
    }
    out
}

/// Inherent impls (`impl<'e> T<'e> { .. }`, no trait): the type's name and the methods
/// defined, each with whether it takes arguments besides `self`.
fn inherent_impls(toks: &[(Tok, usize)]) -> Vec<(String, Vec<(String, bool)>)> {
    let skip_generics = |mut k: usize| {
        if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct('<')) {
            let mut depth = 0;
            while k < toks.len() {
                match toks[k].0 {
                    Tok::Punct('<') => depth += 1,
                    Tok::Punct('>') => depth -= 1,
                    _ => {}
                }
                k += 1;
                if depth == 0 {
                    break;
                }
            }
        }
        k
    };
    let mut out = Vec::new();
    for k in 0..toks.len() {
        if toks[k].0 != Tok::Ident("impl".into()) {
            continue;
        }
        let t = skip_generics(k + 1);
        let Some((Tok::Ident(ty), _)) = toks.get(t) else { continue };
        let open = skip_generics(t + 1);
        if toks.get(open).map(|t| &t.0) != Some(&Tok::Punct('{')) {
            continue; // a trait impl (`impl Trait for T`) or a path type
        }
        let mut methods = Vec::new();
        let (mut depth, mut j) = (0, open);
        while j < toks.len() {
            match &toks[j].0 {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Ident(f) if f == "fn" && depth == 1 => {
                    if let Some((Tok::Ident(name), _)) = toks.get(j + 1) {
                        // Parameters: anything after `(` other than a lone `self` receiver.
                        let p = skip_generics(j + 2);
                        let mut q = p + 1;
                        let mut params = Vec::new();
                        while q < toks.len() && toks[q].0 != Tok::Punct(')') {
                            params.push(toks[q].0.clone());
                            q += 1;
                        }
                        let receiver_only = params.iter().filter(|t| **t == Tok::Punct(',')).count() == 0 && params.contains(&Tok::Ident("self".into()));
                        let takes_args = !params.is_empty() && !receiver_only;
                        methods.push((name.clone(), takes_args));
                    }
                }
                _ => {}
            }
            j += 1;
        }
        out.push((ty.clone(), methods));
    }
    out
}

/// Whether `from` reaches `to` through imports.
fn reaches(edges: &Edges, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from];
    while let Some(v) = todo.pop() {
        if v == to {
            return true;
        }
        if seen.insert(v) {
            todo.extend(edges[v].keys().map(String::as_str));
        }
    }
    false
}

/// Whether the tokens start with `#[cfg(test)]` followed by a module (`mod`, `pub mod`).
fn is_cfg_test(toks: &[(Tok, usize)]) -> bool {
    let want = [Tok::Punct('#'), Tok::Punct('['), Tok::Ident("cfg".into()), Tok::Punct('('), Tok::Ident("test".into()), Tok::Punct(')'), Tok::Punct(']')];
    toks.len() > want.len() + 1
        && toks.iter().zip(&want).all(|((t, _), w)| t == w)
        && (toks[7].0 == Tok::Ident("mod".into()) || (toks[7].0 == Tok::Ident("pub".into()) && toks[8].0 == Tok::Ident("mod".into())))
}

/// Parses a use tree after `use` (or after `prefix::`), collecting full paths and what
/// each binds; returns the index after it.
fn use_tree(toks: &[(Tok, usize)], mut k: usize, mut prefix: Vec<String>, out: &mut Vec<(Vec<String>, Binding)>) -> usize {
    loop {
        match toks.get(k).map(|t| &t.0) {
            Some(Tok::Ident(s)) if s == "as" => {
                let binding = match toks.get(k + 1).map(|t| &t.0) {
                    Some(Tok::Ident(n)) => Binding::Name(n.clone()),
                    _ => Binding::Hidden, // `as _`
                };
                out.push((prefix, binding));
                k += 2;
                return if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(';')) { k + 1 } else { k };
            }
            Some(Tok::Ident(s)) => {
                if s != "self" || prefix.is_empty() {
                    prefix.push(s.clone());
                }
                k += 1;
            }
            Some(Tok::Path) => k += 1,
            Some(Tok::Punct('*')) => {
                out.push((prefix, Binding::Glob));
                k += 1;
                return if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(';')) { k + 1 } else { k };
            }
            Some(Tok::Punct('{')) => {
                k += 1;
                while k < toks.len() && toks[k].0 != Tok::Punct('}') {
                    k = use_tree(toks, k, prefix.clone(), out);
                    if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(',')) {
                        k += 1;
                    }
                }
                k += 1;
                return if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(';')) { k + 1 } else { k };
            }
            _ => {
                // `,`, `}` or `;` ends this branch.
                let binding = prefix.last().map_or(Binding::Hidden, |n| Binding::Name(n.clone()));
                out.push((prefix, binding));
                return if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(';')) { k + 1 } else { k };
            }
        }
    }
}

/// The crate-relative module path a path names, or None for paths outside the crate.
/// Relative paths start at a module the file declares or at a name a `use` brought in.
fn absolute(scope: &[String], children: &BTreeSet<String>, aliases: &BTreeMap<String, Vec<String>>, p: &[String]) -> Option<Vec<String>> {
    let (mut base, rest) = match p.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &p[1..]),
        Some("self") => (scope.to_vec(), &p[1..]),
        Some("super") => (scope.to_vec(), p),
        Some(c) if children.contains(c) => (scope.to_vec(), p),
        Some(a) if aliases.contains_key(a) => (aliases[a].clone(), &p[1..]),
        _ => return None,
    };
    let mut rest = rest.iter().peekable();
    while rest.peek().map_or(false, |s| *s == "super") {
        rest.next();
        base.pop();
    }
    base.extend(rest.cloned());
    Some(base)
}

/// Strongly connected components (Tarjan), each sorted.
fn components(nodes: &[String], edges: &BTreeMap<String, BTreeMap<String, (usize, String)>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, (usize, String)>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges[v].keys() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let l = s.low[w].min(s.low[v]);
                s.low.insert(v, l);
            } else if s.on_stack.contains(w) {
                let l = s.index[w].min(s.low[v]);
                s.low.insert(v, l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            comp.sort();
            s.out.push(comp);
        }
    }
    let mut s = State { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), out: Vec::new() };
    for v in nodes {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// One shortest cycle through each import inside a component, deduplicated: every loop
/// the component holds is made of these (listing all elementary cycles of a tangle of many
/// files would run to thousands of lines).
fn cycles(comp: &[String], edges: &BTreeMap<String, BTreeMap<String, (usize, String)>>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for from in comp {
        for to in edges[from].keys().filter(|t| comp.contains(t)) {
            // Breadth-first from `to` back to `from`, inside the component.
            let mut came: BTreeMap<&str, &str> = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([to.as_str()]);
            came.insert(to, to);
            while let Some(v) = queue.pop_front() {
                if v == from {
                    break;
                }
                for w in edges[v].keys().filter(|w| comp.contains(w)) {
                    if !came.contains_key(w.as_str()) {
                        came.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            let mut cycle = vec![from.clone()];
            let mut v = from.as_str();
            while v != to {
                v = came[v];
                cycle.push(v.to_string());
            }
            // `cycle` runs backwards from `from`; turn it forwards and start it at its
            // smallest file so that the same loop found from two imports reads the same.
            cycle[1..].reverse();
            let first = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap();
            cycle.rotate_left(first);
            if !out.contains(&cycle) {
                out.push(cycle);
            }
        }
    }
    out.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    out
}

fn check(krate: &Crate) -> Vec<String> {
    let edges = krate.edges();
    let nodes: Vec<String> = edges.keys().cloned().collect();
    let comps = components(&nodes, &edges);
    let mut problems = Vec::new();
    for comp in comps.iter().filter(|c| c.len() > 1) {
        let mut msg = format!("{}: these files import each other in a loop: {}\n", krate.name, comp.join(", "));
        for from in comp {
            for (to, (line, path)) in &edges[from] {
                if comp.contains(to) {
                    msg += &format!("    {from}:{line} -> {to}   ({path})\n");
                }
            }
        }
        msg += "  cycles (the shortest through each of those imports):\n";
        for c in cycles(comp, &edges) {
            msg += &format!("    {} -> {}\n", c.join(" -> "), c[0]);
        }
        problems.push(msg);
    }
    // Floors: a file with no imports inside the crate is on floor 0; any other file sits one
    // above its highest import. (A loop's files share a floor, but then the test fails.)
    let mut floor: BTreeMap<&str, usize> = BTreeMap::new();
    for comp in &comps {
        // Tarjan emits a component after every component it imports.
        let f = comp
            .iter()
            .flat_map(|v| edges[v].keys())
            .filter(|w| !comp.contains(w))
            .map(|w| floor[w.as_str()] + 1)
            .max()
            .unwrap_or(0);
        comp.iter().for_each(|v| {
            floor.insert(v.as_str(), f);
        });
    }
    // RADX_LAYERING_EDGES=1: every import with the line and path that makes it.
    if std::env::var_os("RADX_LAYERING_EDGES").is_some() {
        for (from, to) in &edges {
            for (t, (line, path)) in to {
                println!("{}: {from}:{line} -> {t}   ({path})", krate.name);
            }
        }
    }
    let top = floor.values().copied().max().unwrap_or(0);
    println!("{}: {} files, {} floors (top first; each file imports only from floors below)", krate.name, nodes.len(), top + 1);
    for f in (0..=top).rev() {
        let on: Vec<&str> = floor.iter().filter(|(_, l)| **l == f).map(|(v, _)| *v).collect();
        println!("  floor {f:>2}: {}", on.join("  "));
    }
    println!();
    problems
}

#[test]
fn imports_go_one_way() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for (name, src) in [("radx-core", here.join("src")), ("radx-capi", here.join("../radx-capi/src"))] {
        problems.extend(check(&Crate::read(name, src)));
    }
    assert!(problems.is_empty(), "import loops between files:\n{}", problems.join("\n"));
}

#[test]
fn reads_paths_as_intended() {
    let toks = tokens(&strip("use crate::a::{self, b::{C, d}, e as f}; // crate::x::y\nlet s = \"crate::q\"; super::g::h(); '\"';"));
    let mut paths = Vec::new();
    use_tree(&toks, 1, Vec::new(), &mut paths);
    let p: Vec<String> = paths.iter().map(|(p, _)| p.join("::")).collect();
    assert_eq!(p, ["crate::a", "crate::a::b::C", "crate::a::b::d", "crate::a::e"]);
    let b: Vec<Binding> = paths.into_iter().map(|(_, b)| b).collect();
    assert_eq!(b, ["a", "C", "d", "f"].map(|n| Binding::Name(n.into())));
    let s = strip("let x = r#\"crate::a\"#; 'a: loop {} // c\n/* crate::b /* nested */ */ crate::c");
    assert!(!s.contains("crate::a") && !s.contains("crate::b") && s.contains("crate::c") && s.contains("'a"));
}

/// Edges that no single `crate::` path shows: through a name a `use` brought in, through a
/// glob import of a parent, and through a method another directory adds to a type; and
/// none from unit tests.
#[test]
fn finds_indirect_imports() {
    let dir = std::env::temp_dir().join(format!("radx-layering-{}", std::process::id()));
    let files = [
        ("lib.rs", "mod engine; mod ir; mod gen; mod lower; mod low;"),
        ("ir/mod.rs", "pub mod llvm; pub fn f() {}"),
        ("ir/llvm.rs", "pub fn g() {}"),
        ("ir/builder.rs", "use super::*;\npub fn h() { llvm::g() }"),
        ("engine.rs", "pub struct Engine;"),
        ("gen/mod.rs", "use crate::engine::Engine;\nimpl Engine { pub fn generate(&mut self, n: u32) {} }"),
        ("lower.rs", "use crate::engine::Engine;\npub fn lower(e: &mut Engine) { e.generate(1); }"),
        ("low.rs", "use crate::ir;\npub fn k() { ir::llvm::g(); let mut v = vec![1]; v.reverse(); }\n#[cfg(test)]\nmod tests { use crate::lower::lower; }"),
    ];
    for (f, text) in files {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let edges = Crate::read("synthetic", dir.clone()).edges();
    std::fs::remove_dir_all(&dir).unwrap();
    let to = |f: &str| edges[f].keys().cloned().collect::<Vec<_>>();
    assert_eq!(to("ir/builder.rs"), ["ir/llvm.rs", "ir/mod.rs"]);
    assert_eq!(to("low.rs"), ["ir/llvm.rs", "ir/mod.rs"]);
    assert_eq!(to("lower.rs"), ["engine.rs", "gen/mod.rs"]);
    assert_eq!(to("gen/mod.rs"), ["engine.rs"]);
}
