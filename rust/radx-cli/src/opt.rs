//! `radx opt`: differentiate the magic calls of one module.

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
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
";

pub struct OptArgs {
    pub input: String,
    pub output: String,
    pub stats: bool,
    pub stats_json: Option<String>,
    pub options: Options,
    pub json_diags: bool,
}

fn parse_args(args: &[String]) -> Result<Option<OptArgs>, String> {
    let mut input = None;
    let mut output = None;
    let mut stats = false;
    let mut stats_json = None;
    let mut options = Options::default();
    let mut json_diags = false;
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
    Ok(Some(OptArgs { input, output, stats, stats_json, options, json_diags }))
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

pub fn read_module<'c>(ctx: &'c Context, path: &str) -> Result<Module<'c>, Diagnostic> {
    let buf = if path == "-" {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)
            .map_err(|e| Diagnostic::new(Code::MalformedInput, format!("cannot read standard input: {e}")))?;
        MemoryBuffer::create_from_memory_range_copy(&data, "stdin")
    } else {
        MemoryBuffer::create_from_file(Path::new(path)).map_err(|e| Diagnostic::new(Code::MalformedInput, format!("cannot read `{path}`: {}", e.to_string().trim())))?
    };
    ctx.create_module_from_ir(buf).map_err(|e| radx_core::ir::llvm::unreadable_module(&format!("`{path}` is not valid LLVM IR"), &e.to_string()))
}

pub fn write_module(m: &Module, path: &str) -> Result<(), Diagnostic> {
    let fail = |e: String| Diagnostic::new(Code::MalformedInput, format!("cannot write `{path}`: {e}"));
    if path == "-" {
        print!("{}", m.print_to_string().to_string());
        Ok(())
    } else if path.ends_with(".bc") {
        if m.write_bitcode_to_path(Path::new(path)) {
            Ok(())
        } else {
            Err(fail("bitcode writer failed".into()))
        }
    } else {
        m.print_to_file(Path::new(path)).map_err(|e| fail(e.to_string()))
    }
}

/// Differentiates the module at `a.input` and writes it to `a.output`.
pub fn run(a: &OptArgs) -> Result<(), Vec<Diagnostic>> {
    let ctx = Context::create();
    let m = read_module(&ctx, &a.input).map_err(|d| vec![d])?;
    if let Err(e) = m.verify() {
        return Err(vec![Diagnostic::new(Code::MalformedInput, format!("`{}` is not a valid module: {}", a.input, e.to_string().trim()))]);
    }
    let report = radx_core::lower_module(m.as_mut_ptr(), &a.options)?;
    if a.stats {
        eprintln!("radx: {} magic call(s) lowered, {} function(s) generated", report.calls_lowered, report.generated.len());
        let t = &report.timings;
        eprintln!(
            "  time: differentiation {:.1} ms, preparation passes {:.1} ms, verification {:.1} ms, cleanup passes {:.1} ms",
            t.differentiate_ms, t.prepare_ms, t.verify_ms, t.cleanup_ms
        );
        for g in &report.generated {
            eprintln!("  {:<32} {:<13} width {:<2} from `{}`: {} instructions", g.name, g.mode, g.width, g.source, g.instructions);
            if let Some(t) = &g.tape {
                let loops: Vec<String> = t.bytes_per_iteration.iter().map(|(h, b)| format!("{b} B per iteration of loop `{h}`")).collect();
                eprintln!(
                    "      tape: {} B per call{}{}",
                    t.bytes_per_call,
                    if loops.is_empty() { String::new() } else { format!(", {}", loops.join(", ")) },
                    if t.cached.is_empty() { ", nothing cached".to_string() } else { String::new() }
                );
                if !t.sized_loops.is_empty() {
                    eprintln!("      sized on entry from the trip count: loop(s) {}", t.sized_loops.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", "));
                }
                for c in &t.cached {
                    eprintln!("      cached: {c}");
                }
            }
        }
    }
    if let Some(path) = &a.stats_json {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        std::fs::write(path, json).map_err(|e| vec![Diagnostic::new(Code::MalformedInput, format!("cannot write `{path}`: {e}"))])?;
    }
    write_module(&m, &a.output).map_err(|d| vec![d])
}
