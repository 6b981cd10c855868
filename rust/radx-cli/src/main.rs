//! The `radx` command.

mod cc;
mod check;
mod opt;

use std::process::ExitCode;

const HELP: &str = "\
radx — automatic differentiation of LLVM IR (Enzyme's __enzyme_* calling convention)

USAGE:
    radx opt IN.(ll|bc) -o OUT.(ll|bc) [--stats] [--stats-json FILE] [--no-preopt] [--no-postopt]
    radx cc  CLANG-ARGS...     compile C with derivatives (drop-in for the clang of radx's LLVM)
    radx c++ CLANG-ARGS...     the same for C++ (drives that LLVM's clang++)
    radx check SOURCES... [-- CLANG-FLAGS]  check every derivative of a C program against
                               finite differences (and reverse against forward mode)
    radx --version | --help    --version names the LLVM radx is built on

`radx opt` rewrites every magic call of the module (__enzyme_fwddiff*, __enzyme_autodiff*,
__enzyme_augmentfwd* / __enzyme_reverse*) into a call of a generated derivative and writes
the result (text IR for .ll, bitcode for .bc or -o -.bc). `radx cc`
compiles each source to IR at the requested -O level, runs the same transformation, then
compiles and links with the same flags. Run `radx opt --help` or `radx cc --help` for more.

ENVIRONMENT:
    RADX_CLANG       the clang used by `radx cc` (default: clang-N of radx's LLVM N, then /usr/lib/llvm-N/bin/clang)
    RADX_KEEP_TEMPS  keep `radx cc`'s intermediate IR files and print where they are
    RADX_DISABLE     reverse-mode tape optimizations to switch off (to measure them)
    RADX_PRINT_PREPARED  print the canonicalised functions derivatives are made from
    RADX_LLVM_ARGS   options for LLVM itself, as `opt` takes them (`-time-passes` profiles each pass)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(extra) = std::env::var("RADX_LLVM_ARGS") {
        radx_core::ir::llvm::parse_command_line(&extra);
    }
    let code = match args.first().map(|s| s.as_str()) {
        Some("opt") => opt::main(&args[1..]),
        Some("check") => check::main(&args[1..]),
        Some("cc") => cc::main(&args[1..], false),
        Some("c++") | Some("cxx") => cc::main(&args[1..], true),
        Some("--version") | Some("-V") => {
            println!("radx {} ({}, built with LLVM {})", radx_core::VERSION, radx_core::ir::llvm::describe(), radx_core::ir::llvm::built_against());
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
