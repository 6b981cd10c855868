//! OpenMP as clang lowers it: `#pragma omp parallel` becomes a call of the runtime's
//! `__kmpc_fork_call(loc, argc, outlined, captured...)`, which runs
//! `outlined(&gtid, &bound_tid, captured...)` on every thread of a new team; work sharing,
//! reductions and synchronisation inside are more runtime calls.
//!
//! Derivatives run each parallel region serialized: the copy a derivative is generated
//! from calls the outlined function directly, between `__kmpc_serialized_parallel` and
//! `__kmpc_end_serialized_parallel` — what clang itself emits for `if(0)`. In a team of
//! one the runtime gives the calling thread every iteration of a work-shared loop and
//! performs reductions without calling the reduction function, so the outlined function
//! is differentiated like any other callee, and the derivative sees one order of the
//! region's work. The primal the user calls outside a derivative stays parallel.

use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, builder::Builder, Value};

/// Runtime entry points that move no floating-point data the derivative has to follow:
/// scheduling, thread identity and synchronisation. In a serialized team the reduction
/// entry points return 1 ("reduce here, under the lock") without reading the data.
pub const RUNTIME_FUNCTIONS: &[&str] = &[
    "__kmpc_global_thread_num",
    "__kmpc_serialized_parallel",
    "__kmpc_end_serialized_parallel",
    "__kmpc_push_num_threads",
    "__kmpc_push_proc_bind",
    "__kmpc_for_static_init_4",
    "__kmpc_for_static_init_4u",
    "__kmpc_for_static_init_8",
    "__kmpc_for_static_init_8u",
    "__kmpc_for_static_fini",
    "__kmpc_dispatch_init_4",
    "__kmpc_dispatch_init_4u",
    "__kmpc_dispatch_init_8",
    "__kmpc_dispatch_init_8u",
    "__kmpc_dispatch_next_4",
    "__kmpc_dispatch_next_4u",
    "__kmpc_dispatch_next_8",
    "__kmpc_dispatch_next_8u",
    "__kmpc_dispatch_fini_4",
    "__kmpc_dispatch_fini_8",
    "__kmpc_barrier",
    "__kmpc_critical",
    "__kmpc_end_critical",
    "__kmpc_single",
    "__kmpc_end_single",
    "__kmpc_master",
    "__kmpc_end_master",
    "__kmpc_masked",
    "__kmpc_end_masked",
    "__kmpc_flush",
    "__kmpc_reduce",
    "__kmpc_end_reduce",
    "__kmpc_reduce_nowait",
    "__kmpc_end_reduce_nowait",
    "omp_get_wtime",
    "omp_get_num_procs",
    "omp_in_parallel",
];

pub fn is_runtime_function(name: &str) -> bool {
    RUNTIME_FUNCTIONS.contains(&name)
}

const FORK_CALL: &str = "__kmpc_fork_call";

/// Constructs whose work the runtime runs later or elsewhere, through function pointers
/// and copied-in data the derivative cannot follow: refused rather than differentiated
/// wrongly.
const UNDIFFERENTIATED: &[(&str, &str)] = &[
    ("__kmpc_omp_task", "`#pragma omp task`"),
    ("__kmpc_taskloop", "`#pragma omp taskloop`"),
    ("__kmpc_fork_teams", "`#pragma omp teams`"),
    ("__tgt_target", "OpenMP target offloading"),
];

/// Refuses a function that uses an OpenMP construct derivatives do not handle.
pub fn check_supported(f: Value) -> Result<()> {
    for i in ir::all_instructions(f) {
        let Some(callee) = ir::called_function(i).filter(|_| ir::opcode(i) == Some(llvm_sys::LLVMOpcode::LLVMCall)) else {
            continue;
        };
        let name = ir::name_of(callee);
        if let Some((_, what)) = UNDIFFERENTIATED.iter().find(|(prefix, _)| name.starts_with(prefix)) {
            return Err(Diagnostic::new(Code::Unsupported, format!("{what} (`{name}`) cannot be differentiated: its work runs through the OpenMP runtime where the derivative cannot follow it"))
                .at(i)
                .hint("use `#pragma omp parallel for` (differentiated, serialized), or move the construct out of the differentiated function"));
        }
    }
    Ok(())
}

/// The outlined function a fork call runs, when the call names one directly.
pub fn forked_function(call: Value) -> Option<Value> {
    let callee = ir::called_function(call)?;
    if ir::name_of(callee) != FORK_CALL || ir::call_arg_count(call) < 3 {
        return None;
    }
    let f = ir::strip_pointer_casts(ir::operand(call, 2));
    ir::is_function(f).then_some(f)
}

/// Rewrites every fork call in `f` that names its outlined function into the serialized
/// form. Fork calls through a function pointer are left alone (the generators report them).
pub fn serialize_parallel_regions(f: Value) {
    let forks: Vec<(Value, Value)> = ir::all_instructions(f)
        .into_iter()
        .filter(|i| ir::opcode(*i) == Some(llvm_sys::LLVMOpcode::LLVMCall))
        .filter_map(|i| forked_function(i).map(|o| (i, o)))
        .collect();
    if forks.is_empty() {
        return;
    }
    let b = Builder::new(ir::module_of_function(f));
    let (i32t, ptr, void) = (b.i32_type(), b.ptr_type(), b.void_type());
    let fn_ty = |ret, params: &mut [ir::Type]| unsafe {
        llvm_sys::core::LLVMFunctionType(ret, params.as_mut_ptr(), params.len() as u32, 0)
    };
    let thread_num_ty = fn_ty(i32t, &mut [ptr]);
    let bracket_ty = fn_ty(void, &mut [ptr, i32t]);
    let thread_num = b.get_or_declare("__kmpc_global_thread_num", thread_num_ty);
    let begin = b.get_or_declare("__kmpc_serialized_parallel", bracket_ty);
    let end = b.get_or_declare("__kmpc_end_serialized_parallel", bracket_ty);
    for (fork, outlined) in forks {
        let args = ir::call_args(fork);
        let loc = args[0];
        // The thread ids the outlined function reads through its first two parameters.
        let gtid_slot = b.entry_alloca(f, i32t);
        let bound_slot = b.entry_alloca(f, i32t);
        b.position_before(fork);
        let gtid = b.call(thread_num_ty, thread_num, &[loc]);
        b.store(gtid, gtid_slot);
        b.store(b.const_int(i32t, 0), bound_slot);
        b.call(bracket_ty, begin, &[loc, gtid]);
        let mut call_args = vec![gtid_slot, bound_slot];
        call_args.extend_from_slice(&args[3..]);
        b.call(ir::function_type(outlined), outlined, &call_args);
        b.call(bracket_ty, end, &[loc, gtid]);
        ir::delete_instruction(fork);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llvm_sys::analysis::{LLVMVerifierFailureAction, LLVMVerifyModule};
    use llvm_sys::core::*;
    use llvm_sys::ir_reader::LLVMParseIRInContext;

    const IR: &str = r#"
%ident = type { i32, i32, i32, i32, ptr }
@loc = private constant %ident zeroinitializer
declare void @__kmpc_fork_call(ptr, i32, ptr, ...)
declare void @__kmpc_omp_task(ptr, i32, ptr)
define internal void @outlined(ptr %gtid, ptr %btid, ptr %x, ptr %n) {
  ret void
}
define void @f(ptr %x, i32 %n) {
  %n.addr = alloca i32
  store i32 %n, ptr %n.addr
  call void (ptr, i32, ptr, ...) @__kmpc_fork_call(ptr @loc, i32 2, ptr @outlined, ptr %x, ptr %n.addr)
  ret void
}
define void @g(ptr %t) {
  call void @__kmpc_omp_task(ptr @loc, i32 0, ptr %t)
  ret void
}
"#;

    fn calls_in(f: Value) -> Vec<String> {
        ir::all_instructions(f).into_iter().filter_map(ir::called_function).map(ir::name_of).collect()
    }

    #[test]
    fn fork_calls_become_serialized_direct_calls() {
        unsafe {
            let ctx = LLVMContextCreate();
            let buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(IR.as_ptr() as *const _, IR.len(), c"ir".as_ptr());
            let (mut m, mut msg) = (std::ptr::null_mut(), std::ptr::null_mut());
            assert_eq!(LLVMParseIRInContext(ctx, buf, &mut m, &mut msg), 0, "test IR does not parse");
            let f = LLVMGetNamedFunction(m, c"f".as_ptr());
            let fork = ir::all_instructions(f).into_iter().find(|i| ir::called_function(*i).is_some()).unwrap();
            assert_eq!(forked_function(fork).map(ir::name_of).as_deref(), Some("outlined"));

            serialize_parallel_regions(f);
            assert_eq!(
                calls_in(f),
                ["__kmpc_global_thread_num", "__kmpc_serialized_parallel", "outlined", "__kmpc_end_serialized_parallel"]
            );
            let direct = ir::all_instructions(f).into_iter().find(|i| ir::called_function(*i).map(ir::name_of).as_deref() == Some("outlined")).unwrap();
            // Thread-id slots first, then the captured values as the fork call passed them.
            let args = ir::call_args(direct);
            assert_eq!(args.len(), 4);
            assert_eq!(ir::opcode(args[0]), Some(llvm_sys::LLVMOpcode::LLVMAlloca));
            assert_eq!(args[2], ir::params(f)[0]);
            assert_eq!(LLVMVerifyModule(m, LLVMVerifierFailureAction::LLVMReturnStatusAction, &mut msg), 0);

            check_supported(f).expect("a serialized region is supported");
            let g = LLVMGetNamedFunction(m, c"g".as_ptr());
            let err = check_supported(g).expect_err("tasks are refused");
            assert!(err.message.contains("`#pragma omp task`"), "{}", err.message);
            LLVMDisposeModule(m);
            LLVMContextDispose(ctx);
        }
    }
}
