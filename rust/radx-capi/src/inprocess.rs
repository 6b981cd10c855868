//! The in-process door: working directly on a caller's `LLVMModuleRef`.
//!
//! The rule: a module may only be handed over when it was made by the very libLLVM that
//! libradx is linked against (same version, same loaded copy). LLVM's C++ objects have no
//! stable layout across versions, and two copies of one version in a process have separate
//! global state, so anything else is refused before the module is touched. The caller
//! proves it by passing its own `LLVMGetVersion`: the versions must be equal and the
//! function must be the one libradx calls.

use crate::error::Failure;
use crate::types::*;
use radx_core::ir::{self, Value};
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;
use std::collections::HashSet;
use std::ffi::CStr;
use std::os::raw::c_uint;

/// The version of the libLLVM libradx calls.
pub fn own_llvm_version() -> (u32, u32, u32) {
    let (mut a, mut b, mut c): (c_uint, c_uint, c_uint) = (0, 0, 0);
    unsafe { LLVMGetVersion(&mut a, &mut b, &mut c) };
    (a, b, c)
}

/// The file a code address belongs to (for messages).
fn object_file_of(addr: usize) -> String {
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(addr as *const libc::c_void, &mut info) != 0 && !info.dli_fname.is_null() {
            return CStr::from_ptr(info.dli_fname).to_string_lossy().into_owned();
        }
    }
    format!("an unknown object at {addr:#x}")
}

/// Checks that the caller's libLLVM is libradx's.
pub fn check_llvm(get_version: RadxLlvmGetVersionFn) -> Result<(), Failure> {
    let Some(theirs) = get_version else {
        return Err(Failure::invalid("llvm_get_version is NULL").hint(
            "pass the address of LLVMGetVersion from the libLLVM that created the module (Julia: `Libdl.dlsym(Libdl.dlopen(String(Base.libllvm_path())), :LLVMGetVersion)`)",
        ));
    };
    let (mut a, mut b, mut c): (c_uint, c_uint, c_uint) = (0, 0, 0);
    unsafe { theirs(&mut a, &mut b, &mut c) };
    let ours = own_llvm_version();
    if (a, b, c) != ours {
        return Err(Failure::api(
            RADX_ERR_LLVM_MISMATCH,
            format!("the module comes from LLVM {a}.{b}.{c} but libradx is built against LLVM {}.{}.{}", ours.0, ours.1, ours.2),
        )
        .hint(format!(
            "build libradx against LLVM {a}.{b}.{c} (for Julia, julia/deps/build.jl does that), or pass bitcode to radx_differentiate_ex instead (it needs the same LLVM major to read it back)"
        )));
    }
    let our_fn = LLVMGetVersion as *const () as usize;
    let their_fn = theirs as *const () as usize;
    if our_fn != their_fn {
        return Err(Failure::api(
            RADX_ERR_LLVM_MISMATCH,
            format!(
                "two copies of LLVM {a}.{b}.{c} are loaded: the module's ({}) and libradx's ({}); a module cannot cross between them",
                object_file_of(their_fn),
                object_file_of(our_fn)
            ),
        )
        .hint("build libradx against the caller's libLLVM (the same file), or pass bitcode to radx_differentiate_ex"));
    }
    Ok(())
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
