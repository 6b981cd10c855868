//! `radx-gpu`: differentiate GPU kernels and compile them to PTX / AMDGPU code objects.
//! Code generation runs in this process, so tests call this command when LLVM might abort.

use inkwell::context::Context;
use radx_gpu::codegen::{self, CodegenOptions};
use radx_gpu::diff::{self, KernelRequest};
use radx_gpu::{Error, GpuTarget};

const HELP: &str = "\
radx-gpu compile --target nvptx|amdgpu [--cpu CPU] [--features F] [--no-opt] IN -o OUT
    LLVM IR (text or bitcode) to PTX (nvptx; default cpu sm_80) or to a linked AMDGPU code
    object (amdgpu; default cpu gfx90a; linked with the ld.lld of radx's LLVM, -shared, or $RADX_LLD).
radx-gpu diff IN --kernel NAME (--reverse|--forward) [--args LIST] [--no-preopt] [--no-postopt] -o OUT
    Adds the derivative kernel of kernel NAME to the module. LIST is one letter per
    parameter, comma separated: d (duplicated: a shadow follows it) or c (constant); default:
    pointers duplicated, and in forward mode floating-point scalars too.
radx-gpu lower IN -o OUT
    Lowers every __enzyme_autodiff / __enzyme_fwddiff call (Enzyme style, from device code).
radx-gpu kernels IN
    Lists the kernels a module defines.
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("radx-gpu: {e}");
            std::process::exit(1);
        }
    }
}

fn usage(msg: &str) -> Error {
    Error::Runtime(format!("{msg}\n\n{HELP}"))
}

fn run(args: &[String]) -> Result<(), Error> {
    let Some(cmd) = args.first() else {
        print!("{HELP}");
        return Ok(());
    };
    let mut input = None;
    let mut output = None;
    let mut target = None;
    let mut cpu = None;
    let mut features = String::new();
    let mut optimize = true;
    let mut kernel = None;
    let mut forward = None;
    let mut list = None;
    let mut options = radx_core::Options::default();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| usage(&format!("{a} needs a value")));
        match a.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "-o" => output = Some(value()?),
            "--target" => target = Some(GpuTarget::from_name(&value()?).ok_or_else(|| usage("unknown target"))?),
            "--cpu" => cpu = Some(value()?),
            "--features" => features = value()?,
            "--no-opt" => optimize = false,
            "--kernel" => kernel = Some(value()?),
            "--args" => list = Some(value()?),
            "--reverse" => forward = Some(false),
            "--forward" => forward = Some(true),
            "--no-preopt" => options.preopt = false,
            "--no-postopt" => options.postopt = false,
            s if !s.starts_with('-') && input.is_none() => input = Some(s.to_string()),
            s => return Err(usage(&format!("unexpected argument `{s}`"))),
        }
    }
    let input = input.ok_or_else(|| usage("no input file"))?;
    let ctx = Context::create();
    let module = radx_gpu::parse_ir(&ctx, &std::fs::read(&input)?, &input)?;
    let write_ir = |m: &inkwell::module::Module, out: &Option<String>| -> Result<(), Error> {
        let out = out.as_ref().ok_or_else(|| usage("no output file (-o)"))?;
        std::fs::write(out, m.print_to_string().to_bytes())?;
        Ok(())
    };
    match cmd.as_str() {
        "compile" => {
            let target = target.or_else(|| diff::module_target(&module)).ok_or_else(|| usage("--target is needed"))?;
            let mut o = CodegenOptions::new(target).features(&features);
            if let Some(c) = cpu {
                o = o.cpu(&c);
            }
            o.optimize_ir = optimize;
            let image = match target {
                GpuTarget::Nvptx => codegen::compile_ptx(&module, &o)?.into_bytes(),
                GpuTarget::Amdgpu => codegen::compile_amdgpu(&module, &o)?,
            };
            std::fs::write(output.ok_or_else(|| usage("no output file (-o)"))?, image)?;
        }
        "diff" => {
            let kernel = kernel.ok_or_else(|| usage("--kernel is needed"))?;
            let forward = forward.ok_or_else(|| usage("--reverse or --forward is needed"))?;
            let dup: Vec<bool> = match list {
                Some(l) => l
                    .split(',')
                    .map(|s| match s.trim() {
                        "d" | "dup" => Ok(true),
                        "c" | "const" => Ok(false),
                        o => Err(usage(&format!("unknown activity `{o}`"))),
                    })
                    .collect::<Result<_, _>>()?,
                None => diff::default_activity(&module, &kernel, forward).ok_or_else(|| usage(&format!("no function `{kernel}`")))?,
            };
            let req = if forward { KernelRequest::Forward { kernel, args: diff::fwd_args(&dup) } } else { KernelRequest::Reverse { kernel, args: diff::rev_args(&dup) } };
            for d in radx_gpu::differentiate_kernels(&module, &[req], &options)? {
                eprintln!("{} derivative of `{}`: `{}` ({:?})", d.mode, d.source, d.name, d.kind);
            }
            write_ir(&module, &output)?;
        }
        "lower" => {
            let r = radx_gpu::lower_enzyme_calls(&module, &options)?;
            eprintln!("{} magic calls lowered", r.calls_lowered);
            write_ir(&module, &output)?;
        }
        "kernels" => {
            for k in diff::kernels(&module) {
                println!("{k}");
            }
        }
        other => return Err(usage(&format!("unknown command `{other}`"))),
    }
    Ok(())
}
