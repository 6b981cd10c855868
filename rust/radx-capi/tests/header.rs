//! `include/radx.h` and the Rust side cannot drift: every `radx_*` function of the header
//! is exported by libradx.so and defined in the Rust sources with the same parameter and
//! return types (and vice versa), the enumeration constants, typedefs and version macros
//! have the same values, and clang lays the structs out as Rust does.

mod common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

fn header() -> String {
    std::fs::read_to_string(Path::new(CRATE).join("include/radx.h")).expect("include/radx.h")
}

fn strip_c_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.map_or(true, |l| b < l) => {
                out.push_str(&rest[..b]);
                let end = rest[b..].find("*/").expect("unterminated comment") + b + 2;
                rest = &rest[end..];
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                rest = rest[l..].find('\n').map_or("", |e| &rest[l + e..]);
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// The header without comments and preprocessor lines.
fn header_code() -> String {
    strip_c_comments(&header()).lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n")
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `name -> (return type, parameter types)`, both as Rust types.
type Sigs = BTreeMap<String, (String, Vec<String>)>;

fn c_base_to_rust(t: &str) -> String {
    match t {
        "void" => "c_void".into(),
        "char" => "c_char".into(),
        "bool" => "bool".into(),
        "int" => "c_int".into(),
        "unsigned" => "c_uint".into(),
        // struct LLVMOpaqueModule * is llvm-c's LLVMModuleRef: *mut llvm_sys::LLVMModule.
        "LLVMOpaqueModule" => "LLVMModule".into(),
        "uint8_t" => "u8".into(),
        "uint32_t" => "u32".into(),
        "int32_t" => "i32".into(),
        "uint64_t" => "u64".into(),
        "int64_t" => "i64".into(),
        "size_t" => "usize".into(),
        // radx_request -> RadxRequest
        t if t.starts_with("radx_") => t.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect(),
        other => panic!("no Rust mapping for the C type `{other}`"),
    }
}

/// A C declarator (`const uint8_t *bitcode`) as a Rust type (`*const u8`); `named` says
/// whether the last identifier is a parameter name.
fn c_type_to_rust(decl: &str, named: bool) -> String {
    let spaced = decl.replace('*', " * ");
    let mut toks: Vec<&str> = spaced.split_whitespace().filter(|t| *t != "struct").collect();
    if named && toks.len() > 1 && toks.last().map_or(false, |t| *t != "*") {
        toks.pop();
    }
    let mut base = None;
    let mut constness = vec![false];
    for t in toks {
        match t {
            "const" => *constness.last_mut().unwrap() = true,
            "*" => constness.push(false),
            other => base = Some(c_base_to_rust(other)),
        }
    }
    let mut ty = base.expect("a base type");
    // constness[k] qualifies what the k-th pointer points to.
    for k in 0..constness.len() - 1 {
        ty = format!("*{} {ty}", if constness[k] { "const" } else { "mut" });
    }
    if constness.len() == 1 && ty == "c_void" {
        return "()".into();
    }
    ty
}

fn header_functions() -> Sigs {
    let code = header_code();
    let mut out = Sigs::new();
    for stmt in code.split(';') {
        let stmt = stmt.rsplit(|c| c == '{' || c == '}').next().unwrap();
        let Some(open) = stmt.find('(') else { continue };
        let head = squash(&stmt[..open]);
        let Some(name) = head.split(|c: char| c == ' ' || c == '*').last().filter(|n| n.starts_with("radx_")) else { continue };
        let ret = c_type_to_rust(&head[..head.len() - name.len()], false);
        let close = stmt.rfind(')').expect("a closing parenthesis");
        let params = squash(&stmt[open + 1..close]);
        let params: Vec<String> =
            if params == "void" || params.is_empty() { vec![] } else { params.split(',').map(|p| c_type_to_rust(p.trim(), true)).collect() };
        assert!(out.insert(name.to_string(), (ret, params)).is_none(), "`{name}` declared twice");
    }
    out
}

fn rust_type(t: &str) -> String {
    // Drop paths (std::os::raw::c_char -> c_char) and normalise spacing.
    let t = squash(t.trim());
    let mut out = String::new();
    for (i, part) in t.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(part.rsplit("::").next().unwrap());
    }
    out
}

fn rust_functions() -> Sigs {
    let mut out = Sigs::new();
    for entry in std::fs::read_dir(Path::new(CRATE).join("src")).unwrap() {
        let path = entry.unwrap().path();
        let src = std::fs::read_to_string(&path).unwrap();
        for (at, _) in src.match_indices("extern \"C\" fn ") {
            let rest = &src[at + "extern \"C\" fn ".len()..];
            let open = rest.find('(').unwrap();
            let name = rest[..open].trim().to_string();
            if !name.starts_with("radx_") {
                continue;
            }
            let close = rest.find(')').unwrap();
            let params: Vec<String> = rest[open + 1..close]
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| rust_type(p.split_once(':').expect("name: type").1))
                .collect();
            let brace = rest.find('{').unwrap();
            let after = rest[close + 1..brace].trim();
            let ret = after.strip_prefix("->").map(rust_type).unwrap_or_else(|| "()".into());
            assert!(out.insert(name.clone(), (ret, params)).is_none(), "`{name}` defined twice ({})", path.display());
        }
    }
    out
}

#[test]
fn functions_match_the_rust_side() {
    let c = header_functions();
    let r = rust_functions();
    assert!(c.len() >= 7, "found only {c:?} in the header");
    let cn: BTreeSet<&String> = c.keys().collect();
    let rn: BTreeSet<&String> = r.keys().collect();
    assert_eq!(cn, rn, "the header and the Rust sources declare different radx_* functions");
    for (name, sig) in &c {
        assert_eq!(sig, &r[name], "`{name}`: header (ret, params) vs Rust");
    }
}

fn libradx() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for d in [deps, deps.parent().unwrap()] {
        let p = d.join("libradx.so");
        if p.exists() {
            return p;
        }
    }
    panic!("libradx.so not found beside {}", exe.display());
}

#[test]
fn every_function_is_exported() {
    let path = std::ffi::CString::new(libradx().to_str().unwrap()).unwrap();
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    assert!(!handle.is_null(), "dlopen {}", libradx().display());
    for name in header_functions().keys() {
        let sym = std::ffi::CString::new(name.as_str()).unwrap();
        assert!(!unsafe { libc::dlsym(handle, sym.as_ptr()) }.is_null(), "libradx.so does not export `{name}`");
    }
    // And nothing else named radx_* (checked with nm when it is there).
    if let Ok(out) = std::process::Command::new("nm").args(["-D", "--defined-only"]).arg(libradx()).output() {
        let declared = header_functions();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(sym) = line.split_whitespace().last().filter(|s| s.starts_with("radx_")) {
                assert!(declared.contains_key(sym), "libradx.so exports `{sym}`, which radx.h does not declare");
            }
        }
    }
}

#[test]
fn constants_match() {
    let code = header_code();
    let mut in_header = BTreeMap::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("enum ") {
        let body_start = at + rest[at..].find('{').expect("enum body");
        let body_end = body_start + rest[body_start..].find('}').unwrap();
        for item in rest[body_start + 1..body_end].split(',') {
            let Some((n, v)) = item.split_once('=') else {
                assert!(item.trim().is_empty(), "enumerator without an explicit value: `{}`", item.trim());
                continue;
            };
            let v: i64 = v.trim().parse().unwrap_or_else(|_| panic!("value of {}", n.trim()));
            assert!(in_header.insert(n.trim().to_string(), v).is_none(), "{} defined twice", n.trim());
        }
        rest = &rest[body_end..];
    }
    let in_rust: BTreeMap<String, i64> = radx::C_CONSTANTS.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    assert_eq!(in_header, in_rust);

    let raw = header();
    for (name, value) in radx::types::VERSION_MACROS {
        let line = raw.lines().find(|l| l.starts_with(&format!("#define {name} "))).unwrap_or_else(|| panic!("#define {name}"));
        assert_eq!(line.split_whitespace().nth(2), Some(*value), "{name}");
    }
}

#[test]
fn typedefs_match() {
    let types_rs = std::fs::read_to_string(Path::new(CRATE).join("src/types.rs")).unwrap();
    let mut n = 0;
    for stmt in header_code().split(';') {
        let s = squash(stmt.rsplit(|c| c == '{' || c == '}').next().unwrap());
        let Some(rest) = s.strip_prefix("typedef ") else { continue };
        if rest.starts_with("struct") {
            continue;
        }
        // A function-pointer typedef: `ret (*name)(params)` is Option<unsafe extern "C" fn>.
        if let Some(open) = rest.find("(*") {
            let ret = c_type_to_rust(&rest[..open], false);
            let close = open + rest[open..].find(')').unwrap();
            let name = &rest[open + 2..close];
            let params_start = close + rest[close..].find('(').unwrap();
            let params_end = rest.rfind(')').unwrap();
            let params: Vec<String> = rest[params_start + 1..params_end].split(',').map(|p| c_type_to_rust(p.trim(), true)).collect();
            let ret = if ret == "()" { String::new() } else { format!(" -> {ret}") };
            let want = format!("pub type {} = Option<unsafe extern \"C\" fn({}){ret}>;", c_base_to_rust(name), params.join(", "));
            assert!(types_rs.contains(&want), "src/types.rs lacks `{want}`");
            n += 1;
            continue;
        }
        let (cty, name) = rest.rsplit_once(' ').unwrap();
        let want = format!("pub type {} = {};", c_base_to_rust(name), c_base_to_rust(cty));
        assert!(types_rs.contains(&want), "src/types.rs lacks `{want}`");
        n += 1;
    }
    assert_eq!(n, 6, "radx_status, radx_mode, radx_activity, radx_slot_role, radx_return_layout and radx_llvm_get_version_fn");
}

#[test]
fn struct_layouts_match_clang() {
    let layouts = radx::types::struct_layouts();
    let mut c = String::from("#include <stdio.h>\n#include <stddef.h>\n#include \"radx.h\"\nint main(void) {\n");
    for (s, f, _, _) in &layouts {
        if *f == "sizeof" {
            c.push_str(&format!("  printf(\"{s} sizeof 0 %zu\\n\", sizeof({s}));\n"));
        } else {
            c.push_str(&format!("  printf(\"{s} {f} %zu %zu\\n\", offsetof({s}, {f}), sizeof(((const {s} *)0)->{f}));\n"));
        }
    }
    c.push_str("  return 0;\n}\n");
    let d = common::scratch("layout");
    std::fs::write(d.join("layout.c"), c).unwrap();
    let out = std::process::Command::new(common::clang())
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(Path::new(CRATE).join("include"))
        .arg(d.join("layout.c"))
        .arg("-o")
        .arg(d.join("layout"))
        .output()
        .expect("run clang");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = std::process::Command::new(d.join("layout")).output().unwrap();
    let text = String::from_utf8(run.stdout).unwrap();
    let c_side: Vec<(String, String, usize, usize)> = text
        .lines()
        .map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (v[0].to_string(), v[1].to_string(), v[2].parse().unwrap(), v[3].parse().unwrap())
        })
        .collect();
    let rust_side: Vec<(String, String, usize, usize)> =
        layouts.iter().map(|(s, f, o, n)| (s.to_string(), f.to_string(), *o, *n)).collect();
    assert_eq!(c_side, rust_side);
    // The header compiles as C++ too.
    let cxx = std::process::Command::new(common::clang())
        .args(["-x", "c++", "-fsyntax-only", "-Wall", "-Werror", "-I"])
        .arg(Path::new(CRATE).join("include"))
        .arg(Path::new(CRATE).join("include/radx.h"))
        .output()
        .unwrap();
    assert!(cxx.status.success(), "{}", String::from_utf8_lossy(&cxx.stderr));
}
