//! OpenMP as clang lowers it: `#pragma omp parallel` becomes a call of the runtime's
//! `__kmpc_fork_call(loc, argc, outlined, captured...)`, which runs
//! `outlined(&gtid, &bound_tid, captured...)` on every thread of a new team; work sharing,
//! reductions and synchronisation inside are more runtime calls.
//!
//! The copy a derivative is generated from calls the outlined function directly, between
//! `__kmpc_serialized_parallel` and `__kmpc_end_serialized_parallel` — what clang itself
//! emits for `if(0)` — and the three calls share a region tag (`REGION_MD`). In a team of
//! one the runtime gives the calling thread every iteration of a work-shared loop, so the
//! outlined function is differentiated like any other callee: reverse mode runs regions
//! serialized this way. Forward mode forks the region again (`forward::calls`), running
//! the outlined function's forward derivative on a team: its tangent loads and stores
//! mirror the primal's, so a data-race-free region has data-race-free tangents.
//!
//! Reductions are rewritten to the runtime's critical-section method in every copy: the
//! tree method combines threads' private copies inside the runtime, through a callback a
//! derivative cannot follow (the tangents' private copies would never be combined).

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

/// Metadata tagging a serialized region's bracket calls and its direct call of the
/// outlined function with one node, `!{ptr loc, i32 k}` (`loc` as the fork call had it).
pub const REGION_MD: &str = "radx.omp.region";

/// The region tag of a call made by `serialize_parallel_regions`, if it has one.
pub fn region_of(call: Value) -> Option<Value> {
    let kind = ir::md_kind(unsafe { llvm_sys::core::LLVMGetTypeContext(ir::type_of(call)) }, REGION_MD);
    let md = unsafe { llvm_sys::core::LLVMGetMetadata(call, kind) };
    (!md.is_null()).then_some(md)
}

/// The source-location argument the region's fork call passed to the runtime.
pub fn region_location(region: Value) -> Value {
    let mut ops = [std::ptr::null_mut(); 2];
    unsafe { llvm_sys::core::LLVMGetMDNodeOperands(region, ops.as_mut_ptr()) };
    ops[0]
}

/// Is this call one of the serialized brackets (not the call of the outlined function)?
pub fn is_serialization_bracket(call: Value) -> bool {
    ir::called_function(call).map(ir::name_of).is_some_and(|n| n == SERIALIZED_BEGIN || n == SERIALIZED_END)
}

/// Declares `__kmpc_fork_call(ptr loc, i32 argc, ptr microtask, ...)`.
pub fn fork_call_function(b: &Builder) -> (Value, ir::Type) {
    let mut params = [b.ptr_type(), b.i32_type(), b.ptr_type()];
    let ty = unsafe { llvm_sys::core::LLVMFunctionType(b.void_type(), params.as_mut_ptr(), 3, 1) };
    (b.get_or_declare(FORK_CALL, ty), ty)
}

const SERIALIZED_BEGIN: &str = "__kmpc_serialized_parallel";
const SERIALIZED_END: &str = "__kmpc_end_serialized_parallel";

/// Rewrites every fork call in `f` that names its outlined function into the serialized
/// form, tagged as a region. Fork calls through a function pointer are left alone (the
/// generators report them).
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
    let begin = b.get_or_declare(SERIALIZED_BEGIN, bracket_ty);
    let end = b.get_or_declare(SERIALIZED_END, bracket_ty);
    let kind = ir::md_kind(b.ctx, REGION_MD);
    for (k, (fork, outlined)) in forks.into_iter().enumerate() {
        let args = ir::call_args(fork);
        let loc = args[0];
        // The thread ids the outlined function reads through its first two parameters.
        let gtid_slot = b.entry_alloca(f, i32t);
        let bound_slot = b.entry_alloca(f, i32t);
        b.position_before(fork);
        let gtid = b.call(thread_num_ty, thread_num, &[loc]);
        b.store(gtid, gtid_slot);
        b.store(b.const_int(i32t, 0), bound_slot);
        let tag = unsafe {
            use llvm_sys::core::*;
            let mut ops = [LLVMValueAsMetadata(loc), LLVMValueAsMetadata(b.const_int(i32t, k as u64))];
            LLVMMetadataAsValue(b.ctx, LLVMMDNodeInContext2(b.ctx, ops.as_mut_ptr(), 2))
        };
        let opened = b.call(bracket_ty, begin, &[loc, gtid]);
        let mut call_args = vec![gtid_slot, bound_slot];
        call_args.extend_from_slice(&args[3..]);
        let direct = b.call(ir::function_type(outlined), outlined, &call_args);
        let closed = b.call(bracket_ty, end, &[loc, gtid]);
        for c in [opened, direct, closed] {
            unsafe { llvm_sys::core::LLVMSetMetadata(c, kind, tag) };
        }
        ir::delete_instruction(fork);
    }
}

/// Rewrites `reduction` clauses to the runtime's critical-section method: `__kmpc_reduce`
/// and `__kmpc_reduce_nowait` become `__kmpc_critical` answering 1 ("combine here"), their
/// ends `__kmpc_end_critical` (plus the barrier the blocking form implies). Every thread
/// then adds its private copy into the shared variable in code a derivative sees.
pub fn use_critical_reductions(f: Value) {
    let calls: Vec<(Value, String)> = ir::all_instructions(f)
        .into_iter()
        .filter(|i| ir::opcode(*i) == Some(llvm_sys::LLVMOpcode::LLVMCall))
        .filter_map(|i| ir::called_function(i).map(|c| (i, ir::name_of(c))))
        .filter(|(_, n)| n.starts_with("__kmpc_reduce") || n.starts_with("__kmpc_end_reduce"))
        .collect();
    if calls.is_empty() {
        return;
    }
    let b = Builder::new(ir::module_of_function(f));
    let (i32t, ptr, void) = (b.i32_type(), b.ptr_type(), b.void_type());
    let mut lock_params = [ptr, i32t, ptr];
    let lock_ty = unsafe { llvm_sys::core::LLVMFunctionType(void, lock_params.as_mut_ptr(), 3, 0) };
    let mut barrier_params = [ptr, i32t];
    let barrier_ty = unsafe { llvm_sys::core::LLVMFunctionType(void, barrier_params.as_mut_ptr(), 2, 0) };
    let critical = b.get_or_declare("__kmpc_critical", lock_ty);
    let end_critical = b.get_or_declare("__kmpc_end_critical", lock_ty);
    let barrier = b.get_or_declare("__kmpc_barrier", barrier_ty);
    for (call, name) in calls {
        let args = ir::call_args(call);
        let (loc, gtid, lock) = (args[0], args[1], *args.last().unwrap());
        b.position_before(call);
        match name.as_str() {
            "__kmpc_reduce" | "__kmpc_reduce_nowait" => {
                b.call(lock_ty, critical, &[loc, gtid, lock]);
                ir::replace_all_uses(call, b.const_int(i32t, 1));
            }
            "__kmpc_end_reduce" | "__kmpc_end_reduce_nowait" => {
                b.call(lock_ty, end_critical, &[loc, gtid, lock]);
                if name == "__kmpc_end_reduce" {
                    b.call(barrier_ty, barrier, &[loc, gtid]);
                }
            }
            _ => continue,
        }
        ir::delete_instruction(call);
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
@lock = global [8 x i32] zeroinitializer
declare i32 @__kmpc_reduce_nowait(ptr, i32, i32, i64, ptr, ptr, ptr)
declare void @__kmpc_end_reduce_nowait(ptr, i32, ptr)
declare void @combine(ptr, ptr)
define void @reduce(ptr %s, double %mine, i32 %gtid, ptr %list) {
  %r = call i32 @__kmpc_reduce_nowait(ptr @loc, i32 %gtid, i32 1, i64 8, ptr %list, ptr @combine, ptr @lock)
  %here = icmp eq i32 %r, 1
  br i1 %here, label %add, label %done
add:
  %old = load double, ptr %s
  %new = fadd double %old, %mine
  store double %new, ptr %s
  call void @__kmpc_end_reduce_nowait(ptr @loc, i32 %gtid, ptr @lock)
  br label %done
done:
  ret void
}
"#;

    fn calls_in(f: Value) -> Vec<String> {
        ir::all_instructions(f).into_iter().filter_map(ir::called_function).map(ir::name_of).collect()
    }

    #[test]
    fn fork_calls_become_tagged_serialized_calls_and_reductions_critical_sections() {
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
            // The brackets and the direct call carry one region tag, naming the location.
            let region = region_of(direct).expect("the direct call is tagged");
            let tagged: Vec<Value> = ir::all_instructions(f).into_iter().filter(|i| region_of(*i) == Some(region)).collect();
            assert_eq!(tagged.len(), 3);
            assert_eq!(tagged.iter().filter(|i| is_serialization_bracket(**i)).count(), 2);
            assert_eq!(ir::name_of(region_location(region)), "loc");
            // Thread-id slots first, then the captured values as the fork call passed them.
            let args = ir::call_args(direct);
            assert_eq!(args.len(), 4);
            assert_eq!(ir::opcode(args[0]), Some(llvm_sys::LLVMOpcode::LLVMAlloca));
            assert_eq!(args[2], ir::params(f)[0]);
            assert_eq!(LLVMVerifyModule(m, LLVMVerifierFailureAction::LLVMReturnStatusAction, &mut msg), 0);

            let reduce = LLVMGetNamedFunction(m, c"reduce".as_ptr());
            use_critical_reductions(reduce);
            assert_eq!(calls_in(reduce), ["__kmpc_critical", "__kmpc_end_critical"]);
            let lock_of = |name: &str| {
                let c = ir::all_instructions(reduce).into_iter().find(|i| ir::called_function(*i).map(ir::name_of).as_deref() == Some(name)).unwrap();
                ir::name_of(ir::call_args(c)[2])
            };
            assert_eq!((lock_of("__kmpc_critical"), lock_of("__kmpc_end_critical")), ("lock".to_string(), "lock".to_string()));
            // Every thread takes the combining branch, under the lock.
            let here = ir::all_instructions(reduce).into_iter().find(|i| ir::opcode(*i) == Some(llvm_sys::LLVMOpcode::LLVMICmp)).unwrap();
            assert_eq!(ir::const_int_value(ir::operand(here, 0)), Some(1));
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
