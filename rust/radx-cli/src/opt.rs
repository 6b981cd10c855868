//! `radx opt`: differentiate the magic calls of one module.

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use radx_core::cache::{Cache, Entry, Key, Lookup};
use radx_core::{Code, Diagnostic, Options};
use std::path::Path;

const HELP: &str = "\
radx opt IN -o OUT [options]

Reads LLVM IR (text .ll or bitcode .bc), rewrites every magic call (__enzyme_fwddiff*,
__enzyme_autodiff*, __enzyme_augmentfwd*, __enzyme_reverse*) into a call of a generated
derivative, verifies the module and writes it (bitcode when OUT ends in .bc, text
otherwise; `-o -` writes text to standard output).

OPTIONS:
    -o FILE            output file (required)
    --stats            print, per generated function, its mode, width, size and tape, and
                       where the time went
    --stats-json FILE  the same as JSON
    --no-preopt        do not canonicalise functions before differentiating them
    --no-postopt       do not clean up the generated functions
    --json-diagnostics print diagnostics as JSON lines on standard error
    --cache            reuse (and store) the result in the derivative cache: RADX_CACHE_DIR,
                       else ~/.cache/radx; bounded by RADX_CACHE_MAX_MB (default 512).
                       RADX_CACHE=1 turns it on for every run, RADX_CACHE=0 off
    --cache-dir DIR    the same, in DIR
    --repeat N         transform the module N times in this process, each time from a fresh
                       copy, and report the fastest run (`in_process` in --stats-json): the
                       cost inside a long-lived process such as Julia's, where LLVM's code
                       is already loaded, bound and in the caches
";

pub struct OptArgs {
    pub input: String,
    pub output: String,
    pub stats: bool,
    pub stats_json: Option<String>,
    pub options: Options,
    pub json_diags: bool,
    /// The derivative cache to read and fill, if any.
    pub cache: Option<Cache>,
    /// Transforms made in this process (fresh copies), the fastest reported.
    pub repeat: usize,
    /// The process ends after this one module (`radx opt`; not `radx cc`, which may
    /// transform many): the module need not be freed.
    pub last_module: bool,
}

fn parse_args(args: &[String]) -> Result<Option<OptArgs>, String> {
    let mut input = None;
    let mut output = None;
    let mut stats = false;
    let mut stats_json = None;
    let mut options = Options::default();
    let mut json_diags = false;
    let mut cache = None;
    let mut repeat = 1;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "-o" => output = Some(it.next().ok_or("-o needs a file name")?.clone()),
            "--stats" => stats = true,
            "--stats-json" => stats_json = Some(it.next().ok_or("--stats-json needs a file name")?.clone()),
            "--no-preopt" => options.preopt = false,
            "--no-postopt" => options.postopt = false,
            "--json-diagnostics" => json_diags = true,
            "--cache" => cache = Some(Cache::from_env().ok_or("--cache: no cache directory (set RADX_CACHE_DIR or HOME)")?),
            "--cache-dir" => cache = Some(Cache::at(it.next().ok_or("--cache-dir needs a directory")?, cache_bound())),
            "--repeat" => repeat = it.next().and_then(|n| n.parse().ok()).filter(|&n: &usize| n >= 1).ok_or("--repeat needs a count of 1 or more")?,
            s if s.starts_with("-o") && s.len() > 2 => output = Some(s[2..].to_string()),
            s if s.starts_with('-') && s != "-" => return Err(format!("unknown option `{s}`")),
            s => {
                if input.replace(s.to_string()).is_some() {
                    return Err("more than one input file".into());
                }
            }
        }
    }
    let input = input.ok_or("no input file")?;
    let output = output.ok_or("no output file (-o)")?;
    if cache.is_none() && radx_core::cache::env_switch() == Some(true) {
        cache = Cache::from_env();
    }
    if radx_core::cache::env_switch() == Some(false) {
        cache = None;
    }
    Ok(Some(OptArgs { input, output, stats, stats_json, options, json_diags, cache, repeat, last_module: repeat == 1 }))
}

pub fn main(args: &[String]) -> i32 {
    let a = match parse_args(args) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return 0;
        }
        Err(e) => {
            eprintln!("radx opt: {e}\n\n{HELP}");
            return 2;
        }
    };
    match run(&a) {
        Ok(()) => 0,
        Err(diags) => {
            report(&diags, a.json_diags);
            1
        }
    }
}

pub fn report(diags: &[Diagnostic], json: bool) {
    for d in diags {
        if json {
            eprintln!("{}", serde_json::to_string(d).unwrap_or_default());
        } else {
            eprintln!("radx: {d}");
        }
    }
}

fn read_input(path: &str) -> Result<Vec<u8>, Diagnostic> {
    if path == "-" {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)
            .map_err(|e| Diagnostic::new(Code::MalformedInput, format!("cannot read standard input: {e}")))?;
        Ok(data)
    } else {
        std::fs::read(path).map_err(|e| Diagnostic::new(Code::MalformedInput, format!("cannot read `{path}`: {e}")))
    }
}

fn module_from_bytes<'c>(ctx: &'c Context, bytes: &[u8], path: &str) -> Result<Module<'c>, Diagnostic> {
    let buf = MemoryBuffer::create_from_memory_range_copy(bytes, path);
    ctx.create_module_from_ir(buf).map_err(|e| radx_core::ir::llvm::unreadable_module(&format!("`{path}` is not valid LLVM IR"), &e.to_string()))
}

pub fn read_module<'c>(ctx: &'c Context, path: &str) -> Result<Module<'c>, Diagnostic> {
    if path == "-" {
        return module_from_bytes(ctx, &read_input(path)?, "stdin");
    }
    let buf = MemoryBuffer::create_from_file(Path::new(path)).map_err(|e| Diagnostic::new(Code::MalformedInput, format!("cannot read `{path}`: {}", e.to_string().trim())))?;
    ctx.create_module_from_ir(buf).map_err(|e| radx_core::ir::llvm::unreadable_module(&format!("`{path}` is not valid LLVM IR"), &e.to_string()))
}

/// The module as `path` wants it: bitcode for `.bc`, text otherwise.
fn module_bytes(m: &Module, path: &str) -> Vec<u8> {
    if path.ends_with(".bc") {
        m.write_bitcode_to_memory().as_slice().to_vec()
    } else {
        m.print_to_string().to_bytes().to_vec()
    }
}

/// Differentiates the module at `a.input` and writes it to `a.output`, through the
/// derivative cache when `a.cache` names one.
pub fn run(a: &OptArgs) -> Result<(), Vec<Diagnostic>> {
    let input = match &a.cache {
        Some(_) => Some(read_input(&a.input).map_err(|d| vec![d])?),
        None => None,
    };
    let key = input.as_ref().map(|bytes| cache_key(a, bytes));
    if let (Some(cache), Some(key)) = (&a.cache, &key) {
        let t = std::time::Instant::now();
        match cache.get(key) {
            Lookup::Hit(entry) => {
                if let (Some(output), Some(stats), Some(json)) = (entry.get("output"), entry.get("stats"), entry.get("json")) {
                    let lookup_ms = t.elapsed().as_secs_f64() * 1e3;
                    return emit(a, output, std::str::from_utf8(stats).unwrap_or(""), json, Some((key, lookup_ms)));
                }
            }
            Lookup::Corrupt(why) => eprintln!("radx: warning: cache entry {} was damaged ({why}); removed, rebuilding it", key.hex()),
            Lookup::Miss => {}
        }
    }
    let (report, output, in_process) = match a.repeat {
        1 => {
            let (report, output) = transform(a, input.as_deref())?;
            (report, output, None)
        }
        n => {
            let bytes = match input {
                Some(b) => b,
                None => read_input(&a.input).map_err(|d| vec![d])?,
            };
            let mut runs = Vec::with_capacity(n);
            let mut best: Option<(f64, radx_core::Report, Vec<u8>)> = None;
            for _ in 0..n {
                let t = std::time::Instant::now();
                let (report, output) = transform(a, Some(&bytes))?;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                runs.push(ms);
                if best.as_ref().map_or(true, |b| ms < b.0) {
                    best = Some((ms, report, output));
                }
            }
            let (best_ms, report, output) = best.expect("one run at least");
            (report, output, Some(serde_json::json!({ "runs": n, "first_ms": runs[0], "best_ms": best_ms })))
        }
    };
    let stats = stats_text(&report);
    let mut json_value = serde_json::to_value(&report).unwrap_or_default();
    if let Some(p) = in_process {
        json_value["in_process"] = p;
    }
    let json = serde_json::to_string_pretty(&json_value).unwrap_or_default().into_bytes();
    if let (Some(cache), Some(key)) = (&a.cache, &key) {
        let entry = Entry::default().with("output", output.clone()).with("stats", stats.clone()).with("json", json.clone());
        if let Err(e) = cache.put(key, &entry) {
            eprintln!("radx: warning: cannot store the result in the cache at `{}`: {e}", cache.dir().display());
        }
    }
    emit(a, &output, &stats, &json, None)
}

/// Reads, checks and differentiates the module, and returns its bytes as `-o` wants them.
fn transform(a: &OptArgs, input: Option<&[u8]>) -> Result<(radx_core::Report, Vec<u8>), Vec<Diagnostic>> {
    let ctx = Context::create();
    let m = match input {
        Some(bytes) => module_from_bytes(&ctx, bytes, &a.input),
        None => read_module(&ctx, &a.input),
    }
    .map_err(|d| vec![d])?;
    if let Err(e) = m.verify() {
        return Err(vec![Diagnostic::new(Code::MalformedInput, format!("`{}` is not a valid module: {}", a.input, e.to_string().trim()))]);
    }
    // A cache entry keeps the --stats text for later runs that ask for it.
    let options = Options { describe_tape: a.stats || a.cache.is_some(), ..a.options.clone() };
    let report = radx_core::lower_module(m.as_mut_ptr(), &options)?;
    let output = module_bytes(&m, &a.output);
    if a.last_module {
        // The process ends once the output is written: freeing the module value by value
        // (0.3 ms of the hand-tracking module's 22) buys nothing then, as clang's driver
        // knows (-disable-free). `--repeat` runs keep freeing, as a long-lived process must.
        std::mem::forget(m);
        std::mem::forget(ctx);
    }
    Ok((report, output))
}

/// Everything the result of `radx opt` depends on besides RadX's and LLVM's versions (which
/// every key covers): the input, the options, and the output's form.
fn cache_key(a: &OptArgs, input: &[u8]) -> Key {
    let options = format!("{:?}", a.options);
    let form: &[u8] = if a.output.ends_with(".bc") { b"bitcode" } else { b"text" };
    Key::new(&[b"radx opt", input, options.as_bytes(), form])
}

/// Writes the output and the statistics asked for; `cached` says the result came from the
/// cache (under which key, found in how long).
fn emit(a: &OptArgs, output: &[u8], stats: &str, json: &[u8], cached: Option<(&Key, f64)>) -> Result<(), Vec<Diagnostic>> {
    let fail = |path: &str, e: std::io::Error| vec![Diagnostic::new(Code::MalformedInput, format!("cannot write `{path}`: {e}"))];
    if a.stats {
        eprint!("{stats}");
        if let Some((key, ms)) = cached {
            eprintln!("  cache: hit, entry {} read in {ms:.2} ms (the figures above are from the run that made it)", key.hex());
        }
    }
    if let Some(path) = &a.stats_json {
        let json = match cached {
            Some((key, ms)) => {
                let mut v: serde_json::Value = serde_json::from_slice(json).unwrap_or_else(|_| serde_json::json!({}));
                v["cache"] = serde_json::json!({ "hit": true, "key": key.hex(), "lookup_ms": ms });
                serde_json::to_vec_pretty(&v).unwrap_or_default()
            }
            None => json.to_vec(),
        };
        std::fs::write(path, json).map_err(|e| fail(path, e))?;
    }
    if a.output == "-" {
        std::io::Write::write_all(&mut std::io::stdout(), output).map_err(|e| fail("-", e))
    } else {
        std::fs::write(&a.output, output).map_err(|e| fail(&a.output, e))
    }
}

/// The `--stats` lines of a run.
fn stats_text(report: &radx_core::Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "radx: {} magic call(s) lowered, {} function(s) generated", report.calls_lowered, report.generated.len());
    let t = &report.timings;
    let _ = writeln!(
        s,
        "  time: differentiation {:.1} ms, preparation passes {:.1} ms, verification {:.1} ms, cleanup passes {:.1} ms",
        t.differentiate_ms, t.prepare_ms, t.verify_ms, t.cleanup_ms
    );
    for g in &report.generated {
        let _ = writeln!(s, "  {:<32} {:<13} width {:<2} from `{}`: {} instructions", g.name, g.mode, g.width, g.source, g.instructions);
        if let Some(t) = &g.tape {
            let loops: Vec<String> = t.bytes_per_iteration.iter().map(|(h, b)| format!("{b} B per iteration of loop `{h}`")).collect();
            let _ = writeln!(
                s,
                "      tape: {} B per call{}{}",
                t.bytes_per_call,
                if loops.is_empty() { String::new() } else { format!(", {}", loops.join(", ")) },
                if t.cached_values == 0 { ", nothing cached".to_string() } else { String::new() }
            );
            if !t.sized_loops.is_empty() {
                let _ = writeln!(s, "      sized on entry from the trip count: loop(s) {}", t.sized_loops.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", "));
            }
            for c in &t.cached {
                let _ = writeln!(s, "      cached: {c}");
            }
        }
    }
    s
}

fn cache_bound() -> u64 {
    Cache::from_env().map(|c| c.max_bytes()).unwrap_or(radx_core::cache::DEFAULT_MAX_BYTES)
}
