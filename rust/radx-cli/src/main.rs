//! The `radx` command.

mod cc;
mod opt;

use std::process::ExitCode;

const HELP: &str = "\
radx — automatic differentiation of LLVM IR (Enzyme's __enzyme_* calling convention)

USAGE:
    radx opt IN.(ll|bc) -o OUT.(ll|bc) [--stats] [--stats-json FILE] [--no-preopt] [--no-postopt]
    radx cc  CLANG-ARGS...     compile C with derivatives (drop-in for clang-16)
    radx c++ CLANG-ARGS...     the same for C++ (drives clang++-16)
    radx --version | --help

`radx opt` rewrites every magic call of the module (__enzyme_fwddiff*, __enzyme_autodiff*,
__enzyme_augmentfwd* / __enzyme_reverse*) into a call of a generated derivative and writes
the result (text IR for .ll, bitcode for .bc or -o -.bc). `radx cc`
compiles each source to IR at the requested -O level, runs the same transformation, then
compiles and links with the same flags. Run `radx opt --help` or `radx cc --help` for more.

ENVIRONMENT:
    RADX_CLANG       the clang used by `radx cc` (default: clang-16, then /usr/lib/llvm-16/bin/clang)
    RADX_KEEP_TEMPS  keep `radx cc`'s intermediate IR files and print where they are
    RADX_DISABLE     reverse-mode tape optimizations to switch off (to measure them)
    RADX_PRINT_PREPARED  print the canonicalised functions derivatives are made from
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(|s| s.as_str()) {
        Some("opt") => opt::main(&args[1..]),
        Some("cc") => cc::main(&args[1..], false),
        Some("c++") | Some("cxx") => cc::main(&args[1..], true),
        Some("--version") | Some("-V") => {
            println!("radx {} (LLVM 16)", radx_core::VERSION);
            0
        }
        Some("--help") | Some("-h") | Some("help") | None => {
            print!("{HELP}");
            if args.is_empty() {
                2
            } else {
                0
            }
        }
        Some(other) => {
            eprintln!("radx: unknown command `{other}`\n\n{HELP}");
            2
        }
    };
    ExitCode::from(code as u8)
}
