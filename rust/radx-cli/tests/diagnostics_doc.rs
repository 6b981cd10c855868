//! docs/diagnostics.md is executable: every example there is compiled with the command the
//! page shows, and radx must print the diagnostic the page shows (so neither the page nor
//! the message can change without the other). Every fixed variant must build, run and
//! print the analytic derivative listed below.
//!
//! The page's fenced blocks carry their role in the info string:
//! ```` ```c NAME.c ```` the whole example (equal to the file under tests/c/diagnostics),
//! ```` ```c NAME_fixed.c (excerpt) ```` lines that must appear in the fixed file,
//! ```` ```text $ radx cc ... NAME.c -o NAME ```` what radx prints on standard error,
//! ```` ```text $ radx cc ... && ./NAME_fixed ```` what the fixed program prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RADX: &str = env!("CARGO_BIN_EXE_radx");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/diagnostics")
}

/// The derivative each fixed program must print, worked out by hand.
fn analytic(name: &str) -> Vec<f64> {
    let cube_at_2 = 3.0 * 2.0 * 2.0;
    match name {
        "unknown_marker" | "missing_function" | "function_pointer" | "only_declared" | "variadic" | "unsupported_marker" | "out_in_forward"
        | "out_not_float" | "float_promoted" | "too_many_arguments" | "trailing_arguments" | "result_shape" | "seed_not_float" | "fwdsplit"
        | "indirect_forward" | "indirect_reverse" => vec![cube_at_2],
        "width_not_constant" => vec![cube_at_2, 2.0 * cube_at_2],
        // d(x*y)/dx with y = 3.
        "no_value" | "marker_after_marker" | "missing_shadow" | "shadow_is_marker" => vec![3.0],
        "result_size" => vec![1.0, 2.0 * 2.0, cube_at_2],
        "tape_not_pointer" => vec![8.0, cube_at_2],
        // y = x^2 at 3 with seeds 1 and 2.
        "width_in_reverse" => vec![6.0, 12.0],
        "tape_memory_small" | "global_pointer_forward" => vec![6.0],
        "const_pointer_forward" | "const_pointer_reverse" => vec![2.0],
        "copy_types_disagree" => vec![1.0, 1.0],
        "realloc_outside" => vec![1.0 + 2.0 * 1.0, 1.0 + 2.0 * 2.0],
        "vla_split" => vec![2.0, 4.0, 6.0],
        "untyped_copy" => vec![1.0, 1.0],
        "mixed_copy" => vec![2.0 * 1.0 * 1.0, 2.0 * 2.0 * 2.0],
        "integer_atomic" => vec![2.0 * 3.0],
        "omp_task" | "omp_teams" => vec![1f64.cos(), 2f64.cos()],
        "invoke" => vec![4.0 * 3.0],
        // d/dx (x^2)^3 = 6 x^5 at 2.
        "external_forward" | "external_reverse" => vec![6.0 * 32.0],
        "rule_wrong_type" | "rule_wrong_count" => vec![cube_at_2 + 1.0],
        other => panic!("no analytic derivative listed for `{other}`"),
    }
}

#[derive(Default, Debug)]
struct Example {
    name: String,
    file: String,
    source: String,
    command: String,
    message: String,
    fixed_file: String,
    excerpt: String,
    fixed_command: String,
    output: String,
}

fn parse(doc: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```").filter(|i| !i.is_empty()) else { continue };
        let mut body = String::new();
        for l in lines.by_ref() {
            if l == "```" {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        let (lang, rest) = info.split_once(' ').unwrap_or((info, ""));
        match lang {
            "c" | "cpp" if rest.ends_with(" (excerpt)") => {
                let e = out.last_mut().expect("an excerpt after its example");
                e.fixed_file = rest.trim_end_matches(" (excerpt)").to_string();
                e.excerpt = body;
            }
            "c" | "cpp" if !rest.is_empty() => {
                let name = rest.rsplit_once('.').map(|(n, _)| n).unwrap_or(rest).to_string();
                out.push(Example { name, file: rest.to_string(), source: body, ..Default::default() });
            }
            "text" if rest.starts_with("$ ") => {
                let e = out.last_mut().expect("a command after its example");
                let cmd = rest[2..].to_string();
                if cmd.contains("&&") {
                    e.fixed_command = cmd;
                    e.output = body;
                } else {
                    e.command = cmd;
                    e.message = body;
                }
            }
            _ => {}
        }
    }
    out
}

fn run_radx(command: &str, dir: &Path) -> Output {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[0], "radx", "a command must start with radx: {command}");
    Command::new(RADX).args(&words[1..]).current_dir(dir).output().expect("run radx")
}

/// Diagnostic lines with their continuations (a multi-line `at:`) joined.
fn logical_lines(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in s.lines().filter(|l| !l.trim().is_empty()) {
        let starts = l.starts_with("radx: ") || ["  in function ", "  at: ", "  hint: "].iter().any(|p| l.starts_with(p));
        match out.last_mut() {
            Some(prev) if !starts => {
                prev.push(' ');
                prev.push_str(l.trim());
            }
            _ => out.push(l.to_string()),
        }
    }
    out
}

fn numbers(s: &str) -> Vec<f64> {
    s.split_whitespace().map(|w| w.parse::<f64>().unwrap_or_else(|_| panic!("`{w}` is not a number in `{s}`"))).collect()
}

fn close(a: f64, b: f64) -> bool {
    // The programs print with %g: six significant digits.
    (a - b).abs() <= 1e-5 * b.abs().max(1e-3)
}

/// Every problem with one example, as text (empty when all is well).
fn check(e: &Example) -> Vec<String> {
    let mut bad = Vec::new();
    let dir = std::env::temp_dir().join(format!("radx-diagnostics-doc-{}-{}", std::process::id(), e.name));
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::read_to_string(examples_dir().join(&e.file)).unwrap_or_default();
    if file != e.source {
        bad.push(format!("the page's {} differs from tests/c/diagnostics/{}", e.file, e.file));
    }
    std::fs::copy(examples_dir().join(&e.file), dir.join(&e.file)).unwrap();

    let out = run_radx(&e.command, &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("panicked") || out.status.code() != Some(1) {
        bad.push(format!("`{}` must exit with status 1 and no panic, got {}:\n{stderr}", e.command, out.status));
    }
    let (want, have) = (logical_lines(&e.message), logical_lines(&stderr));
    if want.len() != have.len() {
        bad.push(format!("`{}` prints\n{stderr}\nbut the page shows\n{}", e.command, e.message));
    } else {
        for (w, h) in want.iter().zip(&have) {
            // Value numbers and attribute groups in `at:` vary between LLVM versions.
            let same = if w.starts_with("  at: ") { h.starts_with("  at: ") } else { w == h };
            if !same {
                bad.push(format!("`{}`: the page shows\n{w}\nbut radx prints\n{h}", e.command));
            }
        }
    }

    let fixed = std::fs::read_to_string(examples_dir().join(&e.fixed_file)).unwrap_or_default();
    for l in e.excerpt.lines().filter(|l| !l.trim().is_empty()) {
        if !fixed.lines().any(|f| f == l) {
            bad.push(format!("the excerpt line `{l}` is not in {}", e.fixed_file));
        }
    }
    std::fs::copy(examples_dir().join(&e.fixed_file), dir.join(&e.fixed_file)).unwrap();
    let (build, exe) = e.fixed_command.split_once("&&").expect("build && run");
    let out = run_radx(build.trim(), &dir);
    if !out.status.success() {
        bad.push(format!("`{build}` fails:\n{}", String::from_utf8_lossy(&out.stderr)));
    } else {
        let run = Command::new(dir.join(exe.trim())).current_dir(&dir).output().expect("run the fixed program");
        let stdout = String::from_utf8_lossy(&run.stdout);
        let want = analytic(&e.name);
        let (shown, printed) = (numbers(&e.output), numbers(&stdout));
        let matches = |v: &[f64]| v.len() == want.len() && v.iter().zip(&want).all(|(a, b)| close(*a, *b));
        if !run.status.success() || !matches(&printed) {
            bad.push(format!("{} prints `{}` (status {}), the derivative is {want:?}", e.fixed_file, stdout.trim(), run.status));
        }
        if !matches(&shown) {
            bad.push(format!("the page shows `{}` for {}, the derivative is {want:?}", e.output.trim(), e.fixed_file));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    bad
}

#[test]
fn every_example_on_the_page_is_what_radx_does() {
    let doc = std::fs::read_to_string(repo().join("docs/diagnostics.md")).expect("docs/diagnostics.md");
    let examples = parse(&doc);
    assert!(examples.len() >= 30, "only {} examples found on the page", examples.len());
    let mut problems = Vec::new();
    for e in &examples {
        if e.command.is_empty() || e.fixed_command.is_empty() || e.fixed_file.is_empty() {
            problems.push(format!("{}: the section lacks the radx output, the fixed excerpt or the fixed program's output", e.name));
        }
        if !doc.contains(&format!("](#{}) (`", e.name)) {
            problems.push(format!("{}: no row of the table links to it", e.name));
        }
    }
    // Every example file is on the page: none is left untested.
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let f = entry.unwrap().file_name().into_string().unwrap();
        if !examples.iter().any(|e| e.file == f || e.fixed_file == f) {
            problems.push(format!("tests/c/diagnostics/{f} is not on the page"));
        }
    }
    // Two cores are typical here; a few workers keep clang busy without starving it.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(e) = examples.get(k) else { break };
                let bad = check(e);
                found.lock().unwrap().extend(bad.into_iter().map(|b| format!("{}: {b}", e.name)));
            });
        }
    });
    problems.extend(found.into_inner().unwrap());
    assert!(problems.is_empty(), "{} problem(s):\n\n{}", problems.len(), problems.join("\n\n"));
}
