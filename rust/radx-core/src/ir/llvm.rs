//! Everything that differs between the LLVM majors RadX builds on (15, 16 and 19, one per
//! build, chosen by radx-core's cargo feature). The generators and analyses ask these
//! functions and never test the version themselves, so a new major is one file's change.
//!
//! What differs, in short:
//! * LLVM 15 has no `LLVMGetVersion`: the version is the one recorded at build time, and a
//!   caller proves it shares libradx's libLLVM with another function's address.
//! * Wrap flags (`nuw`) and fast-math flags have C API readers and writers only from 17
//!   and 18; before, they are read off the printed instruction and set by cloning.
//! * Function memory effects are the `memory(...)` attribute from 16 on, the separate
//!   `readnone` / `readonly` / `argmemonly` attributes in 15.
//! * LLVM 19 keeps debug information in records attached to instructions instead of
//!   `llvm.dbg.*` calls; modules are converted to the intrinsic form when RadX takes them
//!   (`use_debug_intrinsics`), so the engine sees one shape on every version.

use super::Value;
use llvm_sys::core::*;

#[cfg(not(any(feature = "llvm15", feature = "llvm16", feature = "llvm19")))]
compile_error!("radx-core needs an LLVM: build with one of the features llvm15, llvm16 (the default), llvm19");
#[cfg(any(all(feature = "llvm15", feature = "llvm16"), all(feature = "llvm15", feature = "llvm19"), all(feature = "llvm16", feature = "llvm19")))]
compile_error!("radx-core is built for one LLVM at a time: pass --no-default-features with --features llvm15 or llvm19 (llvm16 is the default)");

/// The LLVM major this build links.
#[cfg(feature = "llvm15")]
pub const MAJOR: u32 = 15;
#[cfg(all(feature = "llvm16", not(feature = "llvm15")))]
pub const MAJOR: u32 = 16;
#[cfg(all(feature = "llvm19", not(any(feature = "llvm15", feature = "llvm16"))))]
pub const MAJOR: u32 = 19;

/// The majors RadX can be built for, oldest first.
pub const SUPPORTED_MAJORS: &[u32] = &[15, 16, 19];

/// The version of the LLVM found at build time (`llvm-config --version`, see build.rs).
const BUILT_AGAINST: &str = env!("RADX_LLVM_BUILD_VERSION");

/// The version of the libLLVM this process runs RadX with: what `LLVMGetVersion` says
/// (LLVM 16 on), or the build's version where LLVM has no such query (15).
pub fn version() -> (u32, u32, u32) {
    #[cfg(not(feature = "llvm15"))]
    {
        let (mut a, mut b, mut c) = (0, 0, 0);
        unsafe { LLVMGetVersion(&mut a, &mut b, &mut c) };
        (a, b, c)
    }
    #[cfg(feature = "llvm15")]
    {
        parse_version(BUILT_AGAINST).unwrap_or((MAJOR, 0, 0))
    }
}

/// Hands options to LLVM's own command line (`-time-passes`, `-debug-pass-manager`), for
/// people profiling or debugging the passes RadX runs. Once per process, before any pass.
pub fn parse_command_line(options: &str) {
    let words: Vec<std::ffi::CString> = std::iter::once("radx").chain(options.split_whitespace()).filter_map(|w| std::ffi::CString::new(w).ok()).collect();
    let argv: Vec<*const std::os::raw::c_char> = words.iter().map(|w| w.as_ptr()).collect();
    unsafe { llvm_sys::support::LLVMParseCommandLineOptions(argv.len() as i32, argv.as_ptr(), std::ptr::null()) };
}

/// `"19.1.7"` (also `"15.0.6"` followed by anything) as numbers.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split(|c: char| !c.is_ascii_digit());
    let a = parts.next()?.parse().ok()?;
    let b = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let c = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((a, b, c))
}

/// `"LLVM 19.1.7"`, for `--version` and messages.
pub fn describe() -> String {
    let (a, b, c) = version();
    format!("LLVM {a}.{b}.{c}")
}

/// The version recorded when this build was made.
pub fn built_against() -> &'static str {
    BUILT_AGAINST
}

/// Where this build's LLVM is installed (llvm-sys's prefix at build time).
pub const PREFIX: &str = env!("RADX_LLVM_PREFIX");

/// The command for one of this LLVM's tools (`clang`, `clang++`, `ld.lld`, `llvm-config`):
/// Debian's `<name>-<major>` when it is on the PATH, else `<prefix>/bin/<name>`, else the
/// bare name (which then has to be this LLVM's).
pub fn tool(name: &str) -> String {
    let versioned = format!("{name}-{MAJOR}");
    let on_path = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(&versioned).is_file())).unwrap_or(false);
    if on_path {
        return versioned;
    }
    let full = std::path::Path::new(PREFIX).join("bin").join(name);
    if full.exists() {
        return full.to_string_lossy().into_owned();
    }
    name.to_string()
}

/// The libLLVM function whose address proves that a caller shares this build's libLLVM:
/// `LLVMGetVersion` where it exists (it is then also asked for the version), else
/// `LLVMContextCreate`, which every LLVM has and which is never called for this.
pub fn identity_symbol() -> (&'static str, usize) {
    #[cfg(not(feature = "llvm15"))]
    {
        ("LLVMGetVersion", LLVMGetVersion as *const () as usize)
    }
    #[cfg(feature = "llvm15")]
    {
        ("LLVMContextCreate", LLVMContextCreate as *const () as usize)
    }
}

/// Whether the identity symbol may be called as `LLVMGetVersion` to learn the caller's
/// version.
pub const IDENTITY_REPORTS_VERSION: bool = MAJOR >= 16;

/// `[n x elem]`. LLVM 17 widened the count to 64 bits under new names.
pub fn array_type(elem: super::Type, n: u64) -> super::Type {
    #[cfg(feature = "llvm19")]
    unsafe {
        LLVMArrayType2(elem, n)
    }
    #[cfg(not(feature = "llvm19"))]
    unsafe {
        LLVMArrayType(elem, u32::try_from(n).expect("array longer than LLVM's 32-bit count"))
    }
}

/// The element count of an array type.
pub fn array_length(t: super::Type) -> u64 {
    #[cfg(feature = "llvm19")]
    unsafe {
        LLVMGetArrayLength2(t)
    }
    #[cfg(not(feature = "llvm19"))]
    unsafe {
        LLVMGetArrayLength(t) as u64
    }
}

/// A constant array of `elem`s.
pub fn const_array(elem: super::Type, elems: &mut [Value]) -> Value {
    #[cfg(feature = "llvm19")]
    unsafe {
        LLVMConstArray2(elem, elems.as_mut_ptr(), elems.len() as u64)
    }
    #[cfg(not(feature = "llvm19"))]
    unsafe {
        LLVMConstArray(elem, elems.as_mut_ptr(), elems.len() as u32)
    }
}

/// The diagnostic for a module LLVM cannot read: `what` (`` `x.bc` is not valid LLVM IR``)
/// with LLVM's message, and where the bitcode comes from a newer LLVM, the RadX to use.
pub fn unreadable_module(what: &str, llvm_message: &str) -> crate::diag::Diagnostic {
    let d = crate::diag::Diagnostic::new(crate::diag::Code::MalformedInput, format!("{what}: {}", llvm_message.trim()));
    match read_error_hint(llvm_message) {
        Some(h) => d.hint(h),
        None => d,
    }
}

/// A hint for LLVM's message when it cannot read a module: bitcode from a newer LLVM says
/// so (`(Producer: 'LLVM19.1.7' Reader: 'LLVM 16.0.6')`), and an LLVM only promises to
/// read the bitcode of older ones.
fn read_error_hint(message: &str) -> Option<String> {
    let producer = message.split("Producer: 'LLVM").nth(1)?;
    let (major, _, _) = parse_version(producer)?;
    if major <= MAJOR {
        return None;
    }
    Some(format!(
        "the module was written by LLVM {major}, newer than the LLVM {MAJOR} this RadX is built on, and LLVM reads only the bitcode of its own and older versions: use the RadX built for LLVM {major} (`RADX_LLVM={major} deps/build.sh`) or write the module with clang-{MAJOR}"
    ))
}

/// Refuses a module whose pointers are typed (`double*`): LLVM 15 and 16 still build such
/// modules (Julia 1.10 makes its contexts so, and a `.ll` file written with `i8*` parses
/// into one), and the engine reasons about opaque `ptr`s only. A context's pointers are
/// all of one kind, so the first global or function tells.
pub fn check_module(m: llvm_sys::prelude::LLVMModuleRef) -> Result<(), crate::diag::Diagnostic> {
    let first = super::functions(m).into_iter().next().or_else(|| super::globals(m).into_iter().next());
    let Some(v) = first else { return Ok(()) };
    if unsafe { LLVMPointerTypeIsOpaque(super::type_of(v)) } != 0 {
        return Ok(());
    }
    Err(crate::diag::Diagnostic::new(
        crate::diag::Code::Unsupported,
        format!("the module uses typed pointers (`@{}` is a `{}`); RadX differentiates opaque-pointer IR (`ptr`) only", super::name_of(v), super::type_to_string(super::type_of(v))),
    )
    .hint("compile with the default opaque pointers (clang 15 and later; drop `-Xclang -no-opaque-pointers`), or rewrite the IR with `ptr`; Julia 1.10 makes typed-pointer modules and is not supported (docs/versions.md)"))
}

/// A pass pipeline as this LLVM's pass builder wants it spelled. From LLVM 18 a bare
/// `instcombine` checks that one iteration reached a fixpoint and aborts the process when
/// it did not (the -O pipelines switch that check off); RadX asks for it switched off too.
pub fn pass_pipeline(text: &str) -> String {
    if MAJOR < 18 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 40);
    let mut rest = text;
    while let Some(at) = rest.find("instcombine") {
        let after = &rest[at + "instcombine".len()..];
        out.push_str(&rest[..at + "instcombine".len()]);
        if !after.starts_with('<') {
            out.push_str("<no-verify-fixpoint>");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Whether an integer `add`, `sub`, `mul` or `shl` carries `nuw`.
pub fn has_nuw(inst: Value) -> bool {
    let Some(op) = super::opcode(inst) else { return false };
    use llvm_sys::LLVMOpcode::*;
    if !matches!(op, LLVMAdd | LLVMSub | LLVMMul | LLVMShl) {
        return false;
    }
    #[cfg(feature = "llvm19")]
    {
        unsafe { LLVMGetNUW(inst) != 0 }
    }
    #[cfg(not(feature = "llvm19"))]
    {
        // No reader before LLVM 17: the flags follow the opcode in the printed form.
        let text = super::value_to_string(inst);
        let mut tokens = text.split_whitespace().skip_while(|t| *t != "=").skip(1);
        tokens.next();
        tokens.take_while(|t| matches!(*t, "nuw" | "nsw")).any(|t| t == "nuw")
    }
}

/// Whether the function's attributes say it writes no memory (`memory(read)`,
/// `memory(none)`, or in LLVM 15 `readonly` / `readnone`).
pub fn function_only_reads(f: Value) -> bool {
    if super::has_fn_attr(f, "readnone") || super::has_fn_attr(f, "readonly") {
        return true;
    }
    if MAJOR < 16 {
        return false;
    }
    unsafe {
        let a = LLVMGetEnumAttributeAtIndex(f, llvm_sys::LLVMAttributeFunctionIndex, super::enum_attr_kind("memory"));
        if a.is_null() {
            return false;
        }
        // MemoryEffects packs two bits (read = 1, write = 2) per location kind; 16 to 19
        // have three kinds (argument memory, inaccessible memory, the rest).
        let v = LLVMGetEnumAttributeValue(a);
        (0..3).all(|k| (v >> (2 * k)) & 2 == 0)
    }
}

/// Puts a module's debug information in the `llvm.dbg.*` intrinsic form the engine reads
/// (LLVM 19 keeps it as records attached to instructions by default). Returns whether the
/// module was in record form, so `restore_debug_format` can put it back.
pub fn use_debug_intrinsics(m: llvm_sys::prelude::LLVMModuleRef) -> bool {
    #[cfg(feature = "llvm19")]
    unsafe {
        if LLVMIsNewDbgInfoFormat(m) != 0 {
            LLVMSetIsNewDbgInfoFormat(m, 0);
            return true;
        }
    }
    let _ = m;
    false
}

/// Undoes `use_debug_intrinsics` (`was_records`: what it returned).
pub fn restore_debug_format(m: llvm_sys::prelude::LLVMModuleRef, was_records: bool) {
    #[cfg(feature = "llvm19")]
    unsafe {
        if was_records {
            LLVMSetIsNewDbgInfoFormat(m, 1);
        }
    }
    let _ = (m, was_records);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_built_major() {
        let (major, _, _) = version();
        assert_eq!(major, MAJOR);
        assert_eq!(parse_version(built_against()).map(|v| v.0), Some(MAJOR), "{}", built_against());
        assert!(SUPPORTED_MAJORS.contains(&MAJOR));
        assert_eq!(parse_version("15.0.6"), Some((15, 0, 6)));
        assert_eq!(parse_version("19.1.7-3~deb12u1"), Some((19, 1, 7)));
        assert_eq!(parse_version("19"), Some((19, 0, 0)));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn typed_pointers_are_refused_where_llvm_still_has_them() {
        let ctx = inkwell::context::Context::create();
        let opaque = super::super::parse_test_module(&ctx, "define double @f(ptr %p) {\n  %x = load double, ptr %p\n  ret double %x\n}\n");
        assert!(check_module(opaque.as_mut_ptr()).is_ok());
        if MAJOR >= 17 {
            return; // typed pointers are gone: such text does not parse at all
        }
        let ctx = inkwell::context::Context::create();
        // A context switched to typed pointers, as Julia 1.10 makes them.
        #[cfg(not(feature = "llvm19"))]
        unsafe {
            LLVMContextSetOpaquePointers(ctx.raw(), 0)
        };
        let typed = super::super::parse_test_module(&ctx, "define double @f(double* %p) {\n  %x = load double, double* %p\n  ret double %x\n}\n");
        let d = check_module(typed.as_mut_ptr()).unwrap_err();
        assert!(d.message.contains("typed pointers") && d.message.contains("@f"), "{d}");
    }

    #[test]
    fn instcombine_never_aborts_on_a_missed_fixpoint() {
        let p = pass_pipeline("function(sroa,instcombine,early-cse,instcombine)");
        if MAJOR >= 18 {
            assert_eq!(p, "function(sroa,instcombine<no-verify-fixpoint>,early-cse,instcombine<no-verify-fixpoint>)");
        } else {
            assert_eq!(p, "function(sroa,instcombine,early-cse,instcombine)");
        }
        assert_eq!(pass_pipeline("always-inline"), "always-inline");
    }

    #[test]
    fn newer_bitcode_is_explained() {
        let newer = format!("Unknown attribute kind (86) (Producer: 'LLVM{}.0.1' Reader: 'LLVM {MAJOR}.0.6')", MAJOR + 1);
        let hint = read_error_hint(&newer).expect("a hint for newer bitcode");
        assert!(hint.contains(&format!("RADX_LLVM={}", MAJOR + 1)) && hint.contains(&format!("clang-{MAJOR}")), "{hint}");
        assert_eq!(read_error_hint(&format!("Invalid record (Producer: 'LLVM{MAJOR}.0.6' Reader: 'LLVM {MAJOR}.0.6')")), None);
        assert_eq!(read_error_hint("expected top-level entity"), None);
    }

    #[test]
    fn wrap_flags_are_read_on_every_version() {
        let ctx = inkwell::context::Context::create();
        let text = "define i64 @f(i64 %n) {\n  %a = add nuw nsw i64 %n, 1\n  %b = add nsw i64 %n, 1\n  %c = mul nuw i64 %n, 3\n  %d = sub i64 %a, %b\n  %e = or i64 %c, %d\n  ret i64 %e\n}\n";
        let m = super::super::parse_test_module(&ctx, text);
        let f = super::super::functions(m.as_mut_ptr())[0];
        let names: Vec<(String, bool)> = super::super::instructions(super::super::entry_block(f)).into_iter().map(|i| (super::super::name_of(i), has_nuw(i))).collect();
        let flagged: Vec<&str> = names.iter().filter(|(_, nuw)| *nuw).map(|(n, _)| n.as_str()).collect();
        assert_eq!(flagged, ["a", "c"]);
    }

    #[test]
    fn memory_effects_are_read_on_every_version() {
        let ctx = inkwell::context::Context::create();
        // LLVM 15 spells these `readonly` / `readnone`; 16 and later read the same text
        // into `memory(read)` / `memory(none)` and print it so.
        let text = "declare double @r(ptr) readonly\ndeclare double @n(double) readnone\ndeclare void @w(ptr)\n";
        let m = super::super::parse_test_module(&ctx, text);
        let fs = super::super::functions(m.as_mut_ptr());
        let only_reads: Vec<bool> = fs.iter().map(|&f| function_only_reads(f)).collect();
        assert_eq!(only_reads, [true, true, false]);
    }
}
