//! The in-process door: working directly on a caller's `LLVMModuleRef`.
//!
//! The rule: a module may only be handed over when it was made by the very libLLVM that
//! libradx is linked against (same version, same loaded copy). LLVM's C++ objects have no
//! stable layout across versions, and two copies of one version in a process have separate
//! global state, so anything else is refused before the module is touched. The caller
//! proves it by passing the address of its libLLVM's `LLVMGetVersion` (LLVM 15, which has
//! none, passes `LLVMContextCreate`: `ir::llvm::identity_symbol`): it must be the very
//! function libradx links. A different function is only called when the loader names it
//! `LLVMGetVersion`, to say which LLVM the module came from.

use crate::error::Failure;
use crate::types::*;
use radx_core::ir::{self, Value};
use radx_core::llvm_sys;
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;
use std::collections::HashSet;
use std::ffi::CStr;
use std::os::raw::c_uint;

/// The file a code address belongs to and the exported symbol at it, as the dynamic
/// loader knows them.
fn symbol_at(addr: usize) -> (String, Option<String>) {
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(addr as *const libc::c_void, &mut info) != 0 {
            let file = if info.dli_fname.is_null() { format!("an unknown object at {addr:#x}") } else { CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned() };
            let exact = !info.dli_saddr.is_null() && info.dli_saddr as usize == addr;
            let name = (exact && !info.dli_sname.is_null()).then(|| CStr::from_ptr(info.dli_sname).to_string_lossy().into_owned());
            return (file, name);
        }
    }
    (format!("an unknown object at {addr:#x}"), None)
}

/// Checks that the caller's libLLVM is libradx's.
pub fn check_llvm(get_version: RadxLlvmGetVersionFn) -> Result<(), Failure> {
    let (identity, our_fn) = ir::llvm::identity_symbol();
    let ours = ir::llvm::version();
    let Some(theirs) = get_version else {
        return Err(Failure::invalid("llvm_get_version is NULL").hint(format!(
            "pass the address of {identity} from the libLLVM that created the module (this libradx is built for LLVM {}; Julia: `Libdl.dlsym(Libdl.dlopen(String(Base.libllvm_path())), :{identity})`)",
            ours.0
        )));
    };
    let their_fn = theirs as *const () as usize;
    if their_fn == our_fn {
        return Ok(());
    }
    let (their_file, their_name) = symbol_at(their_fn);
    let (our_file, _) = symbol_at(our_fn);
    let two_copies = |version: String| {
        Failure::api(
            RADX_ERR_LLVM_MISMATCH,
            format!("two copies of LLVM {version} are loaded: the module's ({their_file}) and libradx's ({our_file}); a module cannot cross between them"),
        )
        .hint("build libradx against the caller's libLLVM (the same file), or pass bitcode to radx_differentiate_ex")
    };
    let rebuild = "build the libradx for the caller's LLVM (`RADX_LLVM=<major> deps/build.sh`; RadX.jl's deps/build.jl does it), or pass bitcode to radx_differentiate_ex instead (an LLVM reads the bitcode of older ones)";
    match their_name.as_deref() {
        Some("LLVMGetVersion") => {
            let (mut a, mut b, mut c): (c_uint, c_uint, c_uint) = (0, 0, 0);
            unsafe { theirs(&mut a, &mut b, &mut c) };
            if (a, b, c) != ours {
                return Err(Failure::api(
                    RADX_ERR_LLVM_MISMATCH,
                    format!("the module comes from LLVM {a}.{b}.{c} ({their_file}) but this libradx is built for LLVM {}.{}.{} ({our_file})", ours.0, ours.1, ours.2),
                )
                .hint(rebuild));
            }
            Err(two_copies(format!("{a}.{b}.{c}")))
        }
        Some(name) if name == identity => Err(two_copies(ours.0.to_string())),
        Some("LLVMContextCreate") => Err(Failure::api(
            RADX_ERR_LLVM_MISMATCH,
            format!(
                "the caller passed LLVMContextCreate ({their_file}), which only LLVM 15 callers pass, but this libradx is built for LLVM {}.{}.{} ({our_file})",
                ours.0, ours.1, ours.2
            ),
        )
        .hint(rebuild)),
        other => Err(Failure::invalid(format!(
            "llvm_get_version points at {} in {their_file}, not at {identity} of a libLLVM",
            other.map(|n| format!("`{n}`")).unwrap_or_else(|| format!("{their_fn:#x}"))
        ))
        .hint(format!("pass the address of {identity} from the libLLVM that created the module (this libradx is built for LLVM {})", ours.0))),
    }
}

/// What the module held before a request, to undo a failed one.
pub struct Snapshot {
    functions: HashSet<Value>,
    globals: HashSet<Value>,
}

impl Snapshot {
    pub fn take(m: LLVMModuleRef) -> Snapshot {
        Snapshot { functions: ir::functions(m).into_iter().collect(), globals: ir::globals(m).into_iter().collect() }
    }

    /// Removes every function and global the failed request added. The engine already
    /// deletes what it generated on failure; this catches the rest (derivatives of callees,
    /// declarations, a half-built function after a panic). The original functions are not
    /// modified by `radx_differentiate*`.
    pub fn restore(&self, m: LLVMModuleRef) {
        let added: Vec<Value> = ir::functions(m).into_iter().filter(|f| !self.functions.contains(f)).collect();
        for &f in &added {
            // Uses are only in other added functions, which go too.
            unsafe {
                if ir::has_uses(f) {
                    LLVMReplaceAllUsesWith(f, LLVMGetPoison(LLVMTypeOf(f)));
                }
            }
        }
        for f in added {
            unsafe { LLVMDeleteFunction(f) };
        }
        for g in ir::globals(m) {
            if !self.globals.contains(&g) {
                unsafe {
                    if ir::has_uses(g) {
                        LLVMReplaceAllUsesWith(g, LLVMGetPoison(LLVMTypeOf(g)));
                    }
                    LLVMDeleteGlobal(g);
                }
            }
        }
    }
}

/// Verifies the caller's module before working on it.
pub fn verify_input(m: LLVMModuleRef) -> Result<(), Failure> {
    unsafe {
        let mut msg = std::ptr::null_mut();
        let broken = llvm_sys::analysis::LLVMVerifyModule(m, llvm_sys::analysis::LLVMVerifierFailureAction::LLVMReturnStatusAction, &mut msg);
        let text = if msg.is_null() { String::new() } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
        if !msg.is_null() {
            LLVMDisposeMessage(msg);
        }
        if broken != 0 {
            return Err(Failure::api(RADX_ERR_MALFORMED_INPUT, format!("the module is not valid: {}", text.trim())));
        }
    }
    Ok(())
}
