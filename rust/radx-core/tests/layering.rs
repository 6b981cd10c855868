//! The files of radx-core (and radx-capi) import one another one way only: no file reaches,
//! through any chain of imports, a file that imports it. This test reads the sources, builds
//! the file-level import graph and fails, naming every cycle, if the graph has one.
//! `cargo test --test layering -- --nocapture` prints the graph as floors: a file's imports
//! all sit on lower floors (see docs/internals.md).
//!
//! What counts as an edge from a file: every path in a `use` (including `pub use`
//! re-exports) and every inline path that starts with `crate::`, `super::`, `self::` or the
//! name of a module the file declares (`mod gen;` ... `gen::generate(..)`). A `mod foo;`
//! declaration alone is not an edge: it only says where the file is. Comments and string
//! literals are skipped, so doc links do not count. A path resolves to the deepest file it
//! names: `crate::reverse::tape::X` to `reverse/tape.rs`, `crate::reverse::X` to
//! `reverse/mod.rs` (where `X` is defined or re-exported). Unit tests (`#[cfg(test)] mod
//! tests { .. }`) are left out: they may use anything, like the tests under tests/.

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
    fn edges(&self) -> BTreeMap<String, BTreeMap<String, (usize, String)>> {
        let mut all = BTreeMap::new();
        for (module, file) in &self.files {
            let src = strip(&std::fs::read_to_string(self.src.join(file)).unwrap());
            let toks = tokens(&src);
            let ident = |k: usize| match toks.get(k) {
                Some((Tok::Ident(s), _)) => Some(s.as_str()),
                _ => None,
            };
            // Modules declared as files (`mod foo;`): their names start relative paths.
            let mut children = BTreeSet::new();
            for k in 0..toks.len() {
                if ident(k) == Some("mod") && toks.get(k + 2).map(|t| &t.0) == Some(&Tok::Punct(';')) {
                    children.insert(ident(k + 1).unwrap().to_string());
                }
            }
            let mut found: Vec<(Vec<String>, Vec<String>, usize)> = Vec::new(); // (scope, path, line)
            let mut inline: Vec<(String, usize)> = Vec::new(); // inline modules and their brace depth
            let mut test_depth: Option<usize> = None; // inside `#[cfg(test)] mod .. {` opened at this depth
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
                        if test_depth == Some(depth) {
                            test_depth = None;
                        }
                    }
                    Tok::Punct('#') if test_depth.is_none() && is_cfg_test(&toks[k..]) => {
                        test_depth = Some(depth);
                        k += 7;
                        continue;
                    }
                    _ if test_depth.is_some() => {}
                    Tok::Ident(s) if s == "mod" && toks.get(k + 2).map(|t| &t.0) == Some(&Tok::Punct('{')) => {
                        inline.push((ident(k + 1).unwrap().to_string(), depth));
                    }
                    Tok::Ident(s) if s == "use" => {
                        let line = toks[k].1;
                        let mut paths = Vec::new();
                        k = use_tree(&toks, k + 1, Vec::new(), &mut paths);
                        let sc = scope();
                        found.extend(paths.into_iter().map(|p| (sc.clone(), p, line)));
                        continue;
                    }
                    Tok::Ident(s) if toks.get(k + 1).map(|t| &t.0) == Some(&Tok::Path) && (k == 0 || toks[k - 1].0 != Tok::Path) => {
                        let _ = s;
                        let line = toks[k].1;
                        let mut p = Vec::new();
                        while let Some(seg) = ident(k) {
                            p.push(seg.to_string());
                            if toks.get(k + 1).map(|t| &t.0) != Some(&Tok::Path) {
                                break;
                            }
                            k += 2;
                        }
                        found.push((scope(), p, line));
                        continue;
                    }
                    _ => {}
                }
                k += 1;
            }
            let mut out: BTreeMap<String, (usize, String)> = BTreeMap::new();
            for (scope, p, line) in found {
                let Some(abs) = absolute(&scope, &children, &p) else { continue };
                let target = self.resolve(&abs).to_string();
                if &target != file {
                    out.entry(target).or_insert((line, p.join("::")));
                }
            }
            all.insert(file.clone(), out);
        }
        all
    }
}

/// Whether the tokens start with `#[cfg(test)]` followed by a module (`mod`, `pub mod`).
fn is_cfg_test(toks: &[(Tok, usize)]) -> bool {
    let want = [Tok::Punct('#'), Tok::Punct('['), Tok::Ident("cfg".into()), Tok::Punct('('), Tok::Ident("test".into()), Tok::Punct(')'), Tok::Punct(']')];
    toks.len() > want.len() + 1
        && toks.iter().zip(&want).all(|((t, _), w)| t == w)
        && (toks[7].0 == Tok::Ident("mod".into()) || (toks[7].0 == Tok::Ident("pub".into()) && toks[8].0 == Tok::Ident("mod".into())))
}

/// Parses a use tree after `use` (or after `prefix::`), collecting full paths; returns the
/// index after it.
fn use_tree(toks: &[(Tok, usize)], mut k: usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    loop {
        match toks.get(k).map(|t| &t.0) {
            Some(Tok::Ident(s)) if s == "as" => {
                k += 2;
                out.push(prefix);
                return k;
            }
            Some(Tok::Ident(s)) => {
                if s != "self" || prefix.is_empty() {
                    prefix.push(s.clone());
                }
                k += 1;
            }
            Some(Tok::Path) => k += 1,
            Some(Tok::Punct('*')) => {
                out.push(prefix);
                return k + 1;
            }
            Some(Tok::Punct('{')) => {
                k += 1;
                while toks.get(k).map(|t| &t.0) != Some(&Tok::Punct('}')) {
                    k = use_tree(toks, k, prefix.clone(), out);
                    if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(',')) {
                        k += 1;
                    }
                }
                return k + 1;
            }
            _ => {
                // `,`, `}` or `;` ends this branch.
                out.push(prefix);
                return if toks.get(k).map(|t| &t.0) == Some(&Tok::Punct(';')) { k + 1 } else { k };
            }
        }
    }
}

/// The crate-relative module path a path names, or None for paths outside the crate.
fn absolute(scope: &[String], children: &BTreeSet<String>, p: &[String]) -> Option<Vec<String>> {
    let (mut base, rest) = match p.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &p[1..]),
        Some("self") => (scope.to_vec(), &p[1..]),
        Some("super") => (scope.to_vec(), p),
        Some(c) if children.contains(c) => (scope.to_vec(), p),
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
    let p: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(p, ["crate::a", "crate::a::b::C", "crate::a::b::d", "crate::a::e"]);
    let s = strip("let x = r#\"crate::a\"#; 'a: loop {} // c\n/* crate::b /* nested */ */ crate::c");
    assert!(!s.contains("crate::a") && !s.contains("crate::b") && s.contains("crate::c") && s.contains("'a"));
}
