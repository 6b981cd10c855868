//! Runs NVPTX kernels on the CPU, for tests on machines without a GPU.
//!
//! A [`Backend`] whose images are NVPTX LLVM IR (not PTX): the module is retargeted to the
//! host and JIT-compiled (MCJIT); thread and block indices become calls that read
//! thread-local state, `llvm.nvvm.barrier0` becomes a barrier over the OS threads of the
//! block. Blocks run one after another, the threads of a block concurrently (one OS thread
//! each), so barriers, shared memory and atomics behave as on a GPU:
//! * shared memory (`addrspace(3)` globals) is filled with NaN bytes before every block, so
//!   code that reads shared memory it did not write this block (e.g. a shadow that was not
//!   zeroed at kernel entry) sees garbage, as it may on a GPU;
//! * a barrier that not every thread of the block reaches is reported (a thread exited while
//!   others waited, or a wait timed out), instead of hanging.
//! Only the NVVM intrinsics for thread indices and `barrier0` are emulated; a module calling
//! other `llvm.nvvm.*` intrinsics is refused with their names.

use radx_core::llvm_sys;
use crate::device::{Backend, Dims};
use crate::{Error, GpuTarget, Result};
use llvm_sys::core::*;
use llvm_sys::execution_engine::*;
use llvm_sys::target::{LLVMABISizeOfType, LLVMCreateTargetData, LLVMDisposeTargetData};
use llvm_sys::target_machine::LLVMGetDefaultTargetTriple;
use llvm_sys::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const SREGS: [&str; 12] = ["tid.x", "tid.y", "tid.z", "ntid.x", "ntid.y", "ntid.z", "ctaid.x", "ctaid.y", "ctaid.z", "nctaid.x", "nctaid.y", "nctaid.z"];

thread_local! {
    static SREG: Cell<[u32; 12]> = const { Cell::new([0; 12]) };
    static BARRIER: RefCell<Option<Arc<BlockBarrier>>> = const { RefCell::new(None) };
}

macro_rules! sreg_fns {
    ($($i:literal => $f:ident),*) => {
        $(extern "C" fn $f() -> i32 { SREG.with(|s| s.get()[$i] as i32) })*
        const SREG_FNS: [extern "C" fn() -> i32; 12] = [$($f),*];
    };
}
sreg_fns!(0 => s0, 1 => s1, 2 => s2, 3 => s3, 4 => s4, 5 => s5, 6 => s6, 7 => s7, 8 => s8, 9 => s9, 10 => s10, 11 => s11);

extern "C" fn emu_barrier() {
    BARRIER.with(|b| {
        if let Some(b) = &*b.borrow() {
            b.wait();
        }
    });
}

/// A barrier over the threads of one block that notices threads which never arrive.
struct BlockBarrier {
    n: usize,
    state: Mutex<BarrierState>,
    cv: Condvar,
}

#[derive(Default)]
struct BarrierState {
    arrived: usize,
    exited: usize,
    generation: u64,
    errors: Vec<String>,
}

const BARRIER_TIMEOUT: Duration = Duration::from_secs(20);

impl BlockBarrier {
    fn wait(&self) {
        let mut s = self.state.lock().unwrap();
        s.arrived += 1;
        if s.arrived + s.exited >= self.n {
            if s.exited > 0 {
                let msg = format!("barrier #{} reached by {} threads while {} had already returned", s.generation + 1, s.arrived, s.exited);
                s.errors.push(msg);
            }
            s.arrived = 0;
            s.generation += 1;
            self.cv.notify_all();
            return;
        }
        let g = s.generation;
        let (mut s, t) = self.cv.wait_timeout_while(s, BARRIER_TIMEOUT, |s| s.generation == g).unwrap();
        if t.timed_out() {
            let msg = format!("barrier #{}: {} of {} threads waited {:?} for the others", g + 1, s.arrived, self.n, BARRIER_TIMEOUT);
            s.errors.push(msg);
            s.arrived = 0;
            s.generation += 1;
            self.cv.notify_all();
        }
    }

    fn exit(&self) {
        let mut s = self.state.lock().unwrap();
        s.exited += 1;
        if s.arrived > 0 && s.arrived + s.exited >= self.n {
            let msg = format!("barrier #{} reached by {} threads while {} returned without reaching it", s.generation + 1, s.arrived, s.exited);
            s.errors.push(msg);
            s.arrived = 0;
            s.generation += 1;
            self.cv.notify_all();
        }
    }
}

struct Loaded {
    ee: LLVMExecutionEngineRef,
    ctx: LLVMContextRef,
    /// Kernel name -> address of `void entry(const u64 *slots)`.
    entries: HashMap<String, usize>,
    /// `void poison()`: fills shared memory with NaN bytes.
    poison: usize,
}

// The JIT-compiled code is plain machine code: callable from any thread.
unsafe impl Send for Loaded {}

/// The CPU emulator backend (see the module documentation).
pub struct Emulator {
    modules: Mutex<Vec<Option<Loaded>>>,
    /// (module, kernel name) by function handle.
    functions: Mutex<Vec<(usize, String)>>,
    allocations: Mutex<HashMap<u64, std::alloc::Layout>>,
}

impl Emulator {
    pub fn new() -> Emulator {
        crate::codegen::init_native();
        Emulator { modules: Mutex::new(Vec::new()), functions: Mutex::new(Vec::new()), allocations: Mutex::new(HashMap::new()) }
    }
}

impl Default for Emulator {
    fn default() -> Self {
        Emulator::new()
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn take_message(p: *mut std::ffi::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { LLVMDisposeMessage(p) };
    s
}

/// Retargets an NVPTX module to the host; returns the kernels' names and the emulation
/// functions to bind.
unsafe fn retarget(m: LLVMModuleRef) -> Result<(Vec<String>, Vec<(LLVMValueRef, usize)>)> {
    let triple = CStr::from_ptr(LLVMGetTarget(m)).to_string_lossy().into_owned();
    if !triple.starts_with("nvptx") {
        return Err(Error::Runtime(format!("the emulator runs NVPTX IR; this module is for `{triple}`")));
    }
    let ctx = LLVMGetModuleContext(m);
    let functions: Vec<LLVMValueRef> = {
        let mut v = Vec::new();
        let mut f = LLVMGetFirstFunction(m);
        while !f.is_null() {
            v.push(f);
            f = LLVMGetNextFunction(f);
        }
        v
    };
    let kernels: Vec<LLVMValueRef> = functions.iter().copied().filter(|&f| LLVMCountBasicBlocks(f) > 0 && crate::diff::kernel_kind(m, f).is_kernel()).collect();
    let host = LLVMGetDefaultTargetTriple();
    LLVMSetTarget(m, host);
    LLVMDisposeMessage(host);
    LLVMSetDataLayout(m, cstr("").as_ptr());
    let mut bind = Vec::new();
    let mut unsupported = Vec::new();
    for &f in &functions {
        let idx = llvm_sys::LLVMAttributeFunctionIndex;
        for a in ["target-cpu", "target-features"] {
            LLVMRemoveStringAttributeAtIndex(f, idx, a.as_ptr() as *const std::ffi::c_char, a.len() as u32);
        }
        if matches!(LLVMGetFunctionCallConv(f), crate::diff::CC_PTX_KERNEL | crate::diff::CC_AMDGPU_KERNEL) {
            LLVMSetFunctionCallConv(f, 0);
        }
        let name = crate::diff::name_of(f);
        let Some(rest) = name.strip_prefix("llvm.nvvm.") else { continue };
        let target: usize = if let Some(i) = rest.strip_prefix("read.ptx.sreg.").and_then(|r| SREGS.iter().position(|s| *s == r)) {
            SREG_FNS[i] as usize
        } else if rest == "barrier0" {
            emu_barrier as extern "C" fn() as usize
        } else {
            unsupported.push(name);
            continue;
        };
        let stub = LLVMAddFunction(m, cstr(&format!("radx.emu.{rest}")).as_ptr(), LLVMGlobalGetValueType(f));
        LLVMReplaceAllUsesWith(f, stub);
        LLVMDeleteFunction(f);
        bind.push((stub, target));
    }
    if !unsupported.is_empty() {
        return Err(Error::Runtime(format!("the emulator has no implementation of {}", unsupported.join(", "))));
    }
    // Call sites of kernels (a kernel calling a kernel) follow their callee's convention.
    let mut f = LLVMGetFirstFunction(m);
    while !f.is_null() {
        let mut bb = LLVMGetFirstBasicBlock(f);
        while !bb.is_null() {
            let mut i = LLVMGetFirstInstruction(bb);
            while !i.is_null() {
                if !LLVMIsACallInst(i).is_null() && matches!(LLVMGetInstructionCallConv(i), crate::diff::CC_PTX_KERNEL | crate::diff::CC_AMDGPU_KERNEL) {
                    LLVMSetInstructionCallConv(i, 0);
                }
                i = LLVMGetNextInstruction(i);
            }
            bb = LLVMGetNextBasicBlock(bb);
        }
        f = LLVMGetNextFunction(f);
    }
    let b = LLVMCreateBuilderInContext(ctx);
    let i64t = LLVMInt64TypeInContext(ctx);
    let ptr = LLVMPointerTypeInContext(ctx, 0);
    let void = LLVMVoidTypeInContext(ctx);
    // void radx.emu.entry.K(ptr slots): loads each parameter from an 8-byte slot.
    let mut names = Vec::new();
    for &k in &kernels {
        let name = crate::diff::name_of(k);
        let mut params = [ptr];
        let ty = LLVMFunctionType(void, params.as_mut_ptr(), 1, 0);
        let e = LLVMAddFunction(m, cstr(&format!("radx.emu.entry.{name}")).as_ptr(), ty);
        LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, e, cstr("entry").as_ptr()));
        let kty = LLVMGlobalGetValueType(k);
        let n = LLVMCountParamTypes(kty) as usize;
        let mut ptys = vec![std::ptr::null_mut(); n];
        LLVMGetParamTypes(kty, ptys.as_mut_ptr());
        let mut args = Vec::new();
        for (j, &t) in ptys.iter().enumerate() {
            let mut idx = [LLVMConstInt(i64t, j as u64, 0)];
            let p = LLVMBuildGEP2(b, i64t, LLVMGetParam(e, 0), idx.as_mut_ptr(), 1, cstr("").as_ptr());
            args.push(LLVMBuildLoad2(b, t, p, cstr("").as_ptr()));
        }
        let call = LLVMBuildCall2(b, kty, k, args.as_mut_ptr(), n as u32, cstr("").as_ptr());
        LLVMSetInstructionCallConv(call, LLVMGetFunctionCallConv(k));
        LLVMBuildRetVoid(b);
        names.push(name);
    }
    // void radx.emu.poison(): memset(shared, 0xff) for every defined addrspace(3) global.
    let pty = LLVMFunctionType(void, std::ptr::null_mut(), 0, 0);
    let pf = LLVMAddFunction(m, cstr("radx.emu.poison").as_ptr(), pty);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, pf, cstr("entry").as_ptr()));
    let td = LLVMCreateTargetData(cstr("").as_ptr());
    let mut g = LLVMGetFirstGlobal(m);
    while !g.is_null() {
        let ty = LLVMGlobalGetValueType(g);
        if LLVMIsDeclaration(g) == 0 && LLVMGetPointerAddressSpace(LLVMTypeOf(g)) == 3 && LLVMTypeIsSized(ty) != 0 {
            let size = LLVMABISizeOfType(td, ty);
            LLVMBuildMemSet(b, g, LLVMConstInt(LLVMInt8TypeInContext(ctx), 0xff, 0), LLVMConstInt(i64t, size, 0), 1);
        }
        g = LLVMGetNextGlobal(g);
    }
    LLVMDisposeTargetData(td);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    Ok((names, bind))
}

impl Backend for Emulator {
    fn describe(&self) -> String {
        "CPU emulation of NVPTX kernels (one OS thread per GPU thread)".into()
    }

    fn target(&self) -> GpuTarget {
        GpuTarget::Nvptx
    }

    fn wants_ir(&self) -> bool {
        true
    }

    fn load(&self, image: &[u8]) -> Result<usize> {
        unsafe {
            let ctx = LLVMContextCreate();
            let buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(image.as_ptr() as *const _, image.len(), cstr("emulated").as_ptr());
            let mut m = std::ptr::null_mut();
            let mut msg = std::ptr::null_mut();
            if llvm_sys::ir_reader::LLVMParseIRInContext(ctx, buf, &mut m, &mut msg) != 0 {
                LLVMContextDispose(ctx);
                return Err(Error::Llvm(format!("the emulator cannot parse the module: {}", take_message(msg))));
            }
            let loaded = retarget(m).and_then(|(kernels, bind)| {
                let mut msg = std::ptr::null_mut();
                if llvm_sys::analysis::LLVMVerifyModule(m, llvm_sys::analysis::LLVMVerifierFailureAction::LLVMReturnStatusAction, &mut msg) != 0 {
                    return Err(Error::Llvm(format!("the module retargeted to the host fails verification: {}", take_message(msg))));
                }
                take_message(msg);
                let mut opts: LLVMMCJITCompilerOptions = std::mem::zeroed();
                LLVMInitializeMCJITCompilerOptions(&mut opts, std::mem::size_of::<LLVMMCJITCompilerOptions>());
                opts.OptLevel = 2;
                let mut ee = std::ptr::null_mut();
                let mut msg = std::ptr::null_mut();
                if LLVMCreateMCJITCompilerForModule(&mut ee, m, &mut opts, std::mem::size_of::<LLVMMCJITCompilerOptions>(), &mut msg) != 0 {
                    return Err(Error::Llvm(format!("cannot JIT the module: {}", take_message(msg))));
                }
                for (f, addr) in bind {
                    LLVMAddGlobalMapping(ee, f, addr as *mut c_void);
                }
                let mut entries = HashMap::new();
                for k in kernels {
                    let a = LLVMGetFunctionAddress(ee, cstr(&format!("radx.emu.entry.{k}")).as_ptr());
                    if a == 0 {
                        return Err(Error::Llvm(format!("the JIT did not compile kernel `{k}`")));
                    }
                    entries.insert(k, a as usize);
                }
                let poison = LLVMGetFunctionAddress(ee, cstr("radx.emu.poison").as_ptr()) as usize;
                Ok(Loaded { ee, ctx, entries, poison })
            });
            match loaded {
                Ok(l) => {
                    let mut ms = self.modules.lock().unwrap();
                    ms.push(Some(l));
                    Ok(ms.len() - 1)
                }
                Err(e) => {
                    LLVMDisposeModule(m);
                    LLVMContextDispose(ctx);
                    Err(e)
                }
            }
        }
    }

    fn unload(&self, module: usize) {
        if let Some(l) = self.modules.lock().unwrap().get_mut(module).and_then(Option::take) {
            unsafe {
                LLVMDisposeExecutionEngine(l.ee);
                LLVMContextDispose(l.ctx);
            }
        }
    }

    fn function(&self, module: usize, name: &str) -> Result<usize> {
        let ms = self.modules.lock().unwrap();
        let l = ms.get(module).and_then(Option::as_ref).ok_or_else(|| Error::Runtime("module not loaded".into()))?;
        if !l.entries.contains_key(name) {
            let mut known: Vec<&String> = l.entries.keys().collect();
            known.sort();
            return Err(Error::Runtime(format!("no kernel `{name}` in the module (kernels: {known:?})")));
        }
        let mut fs = self.functions.lock().unwrap();
        fs.push((module, name.to_string()));
        Ok(fs.len() - 1)
    }

    fn alloc(&self, bytes: usize) -> Result<u64> {
        let layout = std::alloc::Layout::from_size_align(bytes.max(1), 256).map_err(|e| Error::Runtime(e.to_string()))?;
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        if p.is_null() {
            return Err(Error::Runtime(format!("out of memory allocating {bytes} bytes")));
        }
        self.allocations.lock().unwrap().insert(p as u64, layout);
        Ok(p as u64)
    }

    fn free(&self, ptr: u64) {
        if let Some(l) = self.allocations.lock().unwrap().remove(&ptr) {
            unsafe { std::alloc::dealloc(ptr as *mut u8, l) };
        }
    }

    fn upload(&self, dst: u64, src: &[u8]) -> Result<()> {
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        Ok(())
    }

    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn launch(&self, function: usize, d: &Dims, params: &mut [*mut c_void]) -> Result<()> {
        let (module, name) = self.functions.lock().unwrap()[function].clone();
        let (entry, poison) = {
            let ms = self.modules.lock().unwrap();
            let l = ms[module].as_ref().ok_or_else(|| Error::Runtime("module unloaded".into()))?;
            (l.entries[&name], l.poison)
        };
        let entry: extern "C" fn(*const u64) = unsafe { std::mem::transmute(entry) };
        let poison: extern "C" fn() = unsafe { std::mem::transmute(poison) };
        // The launcher passes pointers to 8-byte slots; the entry wants the slots themselves.
        let slots: Vec<u64> = params.iter().map(|&p| unsafe { *(p as *const u64) }).collect();
        let threads = (d.block[0] * d.block[1] * d.block[2]) as usize;
        let mut errors = Vec::new();
        for bz in 0..d.grid[2] {
            for by in 0..d.grid[1] {
                for bx in 0..d.grid[0] {
                    poison();
                    let barrier = Arc::new(BlockBarrier { n: threads, state: Mutex::new(BarrierState::default()), cv: Condvar::new() });
                    std::thread::scope(|s| {
                        for tz in 0..d.block[2] {
                            for ty in 0..d.block[1] {
                                for tx in 0..d.block[0] {
                                    let barrier = barrier.clone();
                                    let slots = &slots;
                                    let regs = [tx, ty, tz, d.block[0], d.block[1], d.block[2], bx, by, bz, d.grid[0], d.grid[1], d.grid[2]];
                                    std::thread::Builder::new()
                                        .stack_size(1 << 20)
                                        .spawn_scoped(s, move || {
                                            SREG.with(|r| r.set(regs));
                                            BARRIER.with(|b| *b.borrow_mut() = Some(barrier.clone()));
                                            entry(slots.as_ptr());
                                            barrier.exit();
                                            BARRIER.with(|b| *b.borrow_mut() = None);
                                        })
                                        .expect("spawn an emulated GPU thread");
                                }
                            }
                        }
                    });
                    let st = barrier.state.lock().unwrap();
                    for e in &st.errors {
                        errors.push(format!("block ({bx},{by},{bz}): {e}"));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            errors.truncate(4);
            Err(Error::Runtime(format!("kernel `{name}` did not synchronise its threads: {}", errors.join("; "))))
        }
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
