//! `radx check`: the compile-time half. For every derivative request of a module it adds
//!
//! * a hook before the magic call that hands the call's primal arguments to the checker
//!   runtime (`runtime.c`), so the program's own values are the point checked;
//! * an external wrapper of the differentiated function (the checker calls it, and asks for
//!   its derivatives, from C);
//! * a *probe*: a copy of the function and everything it calls, instrumented to report
//!   every memory access (which tells the runtime where the inputs and outputs are) and
//!   every floating-point value it computes (for the bisection of a wrong derivative);
//!
//! and writes, in C, the thunks through which the runtime calls each of them uniformly:
//! the primal, the forward-mode derivative, the reverse-mode derivative (reverse requests)
//! and the forward derivative of the probe, all requested with Enzyme's own calls, so the
//! derivatives checked are made by the same lowering as the program's.
//!
//! Floor: low, beside the ABI parser it reads magic calls with; it never calls the engine
//! (the derivatives are made later, by the pipeline, from the calls it adds). `driver.rs`,
//! which runs the whole check, is on the top floor.

pub mod driver;

use crate::abi::{self, ArgMode, MagicKind};
use crate::diag::Result;
use crate::ir::{self, builder::Builder, clone, Type, Value};
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;
use llvm_sys::LLVMOpcode;
use crate::collections::HashMap;
use std::fmt::Write;

/// The checker runtime, compiled into the checked program with the thunks.
pub const RUNTIME_C: &str = include_str!("runtime.c");

// Argument kinds and touch flags, as runtime.c numbers them.
const K_F64: u8 = 1;
const K_F32: u8 = 2;
const K_CF64: u8 = 3;
const K_CF32: u8 = 4;
const K_DUP_PTR: u8 = 5;
const K_CONST_PTR: u8 = 6;
const K_OTHER: u8 = 7;
const T_STORE: u64 = 1;
const T_F64: u64 = 2;
const T_F32: u64 = 4;
const T_PTR: u64 = 8;
const T_BYTES: u64 = 16;

/// One derivative request of the module, as the checker sees it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Request {
    pub id: usize,
    /// The differentiated function.
    pub function: String,
    /// `forward`, `reverse`, or how a split request is checked.
    pub kind: String,
    /// Where the program asks for it (`file:line`), or the calling function.
    pub location: String,
    /// Why it cannot be checked, if it cannot.
    pub skip: Option<String>,
    #[serde(skip)]
    c: Option<CShape>,
}

/// What the C thunks need to call a request's functions.
#[derive(Clone, Debug)]
struct CShape {
    kinds: Vec<u8>,
    /// C type of each parameter.
    params: Vec<String>,
    ret_c: String,
    /// K_F64 / K_F32 when the result is an active float, else 0.
    ret: u8,
    reverse: bool,
}

/// Which derivatives the thunks ask for besides the request's own; each one dropped is a
/// check fewer, for programs whose functions have no derivative in that mode.
#[derive(Clone, Copy, Debug)]
pub struct Coverage {
    /// The forward derivative of the probe (the bisection of a mismatch).
    pub bisection: bool,
    /// The forward derivative of a reverse request (the dot-product test).
    pub dot_test: bool,
}

pub struct Plan {
    pub requests: Vec<Request>,
    /// The thunks and the runtime, one C file.
    pub c_source: String,
}

/// Instruments every request of `module` (see the module's comment). The magic calls stay
/// where they are and are lowered as usual afterwards.
pub fn instrument(module: LLVMModuleRef, coverage: Coverage) -> Result<Plan> {
    let b = Builder::new(module);
    let mut requests = Vec::new();
    let mut sites: Vec<String> = Vec::new();
    let mut probes: HashMap<Value, Value> = HashMap::default();
    // A function with a custom rule is called as it is from the probe: its derivative in
    // the probe's forward run is then the rule's, which the bisection is there to test.
    for f in custom_rule_targets(module) {
        probes.insert(f, f);
    }
    let mut calls = abi::magic_calls(module);
    // Program order, so ids follow the source.
    calls.sort_by_key(|(c, _)| ir::source_loc(*c).map(|l| (l.file, l.line, l.column)));
    for (call, kind) in calls {
        let check_kind = match kind {
            MagicKind::ForwardDiff => "forward",
            MagicKind::ForwardSplit => "forward (split request, checked as forward mode)",
            MagicKind::AutoDiff => "reverse",
            MagicKind::AugmentForward => "reverse (split request, checked as combined reverse mode)",
            MagicKind::Reverse | MagicKind::AugmentSize => continue,
        };
        let id = requests.len();
        let location = ir::source_loc(call).map(|l| format!("{}:{}", l.file, l.line)).unwrap_or_else(|| format!("in `{}`", ir::name_of(ir::parent_function(call))));
        let parsed = match abi::parse(&b, call, kind) {
            Ok(p) => p,
            // The lowering reports a malformed request; there is nothing to check.
            Err(_) => continue,
        };
        let f = parsed.function;
        let name = ir::name_of(f);
        let mut req = Request { id, function: name.clone(), kind: check_kind.into(), location, skip: None, c: None };
        let reverse = matches!(kind, MagicKind::AutoDiff | MagicKind::AugmentForward);
        match shape(&parsed, f, reverse) {
            Err(why) => req.skip = Some(why),
            Ok(_) if ir::is_declaration(f) => req.skip = Some(format!("`{name}` has no body in the module")),
            Ok(shape) => {
                let fn_ty = ir::function_type(f);
                wrapper(&b, f, &format!("radx_check_primal_{id}"));
                let probe = probe_of(&b, f, &mut probes, &mut sites);
                wrapper(&b, probe, &format!("radx_check_probe_{id}"));
                hook(&b, call, id as u64, &parsed.args.iter().map(|a| a.primal).collect::<Vec<_>>(), fn_ty);
                req.c = Some(shape);
            }
        }
        requests.push(req);
    }
    let c_source = format!("{RUNTIME_C}\n{}", thunks(&requests, &sites, coverage));
    Ok(Plan { requests, c_source })
}

fn custom_rule_targets(module: LLVMModuleRef) -> Vec<Value> {
    ir::globals(module)
        .into_iter()
        .filter(|g| {
            let n = ir::name_of(*g);
            n.starts_with("__enzyme_register_derivative") || n.starts_with("__enzyme_register_gradient")
        })
        .filter_map(|g| {
            let init = unsafe { LLVMGetInitializer(g) };
            (!init.is_null() && ir::num_operands(init) > 0).then(|| ir::strip_pointer_casts(ir::operand(init, 0)))
        })
        .filter(|f| ir::is_function(*f))
        .collect()
}

fn c_type(t: Type) -> Option<String> {
    if ir::is_void(t) {
        return Some("void".into());
    }
    if ir::is_pointer(t) {
        return Some("void *".into());
    }
    match ir::type_kind(t) {
        llvm_sys::LLVMTypeKind::LLVMDoubleTypeKind => Some("double".into()),
        llvm_sys::LLVMTypeKind::LLVMFloatTypeKind => Some("float".into()),
        llvm_sys::LLVMTypeKind::LLVMIntegerTypeKind => match unsafe { LLVMGetIntTypeWidth(t) } {
            1 => Some("_Bool".into()),
            8 | 16 | 32 | 64 => Some(format!("int{}_t", unsafe { LLVMGetIntTypeWidth(t) })),
            _ => None,
        },
        _ => None,
    }
}

fn shape(p: &abi::ParsedCall, f: Value, reverse: bool) -> std::result::Result<CShape, String> {
    if p.function_sret.is_some() || p.sret.is_some() {
        return Err("the function returns a struct through memory".into());
    }
    let fn_ty = ir::function_type(f);
    let params = ir::param_types(fn_ty);
    if params.len() != p.args.len() || ir::is_vararg(fn_ty) {
        return Err("the call's arguments do not match the function's parameters one to one".into());
    }
    let mut kinds = Vec::new();
    let mut cparams = Vec::new();
    for (i, (a, &t)) in p.args.iter().zip(&params).enumerate() {
        let c = c_type(t).filter(|c| c != "void").ok_or_else(|| format!("argument {} has type `{}`, which radx check does not perturb", i + 1, ir::type_to_string(t)))?;
        if ir::type_of(a.primal) != t {
            return Err(format!("argument {} is passed as `{}` for a `{}` parameter", i + 1, ir::type_to_string(ir::type_of(a.primal)), ir::type_to_string(t)));
        }
        let active = a.mode != ArgMode::Const;
        let k = match c.as_str() {
            "double" => if active { K_F64 } else { K_CF64 },
            "float" => if active { K_F32 } else { K_CF32 },
            "void *" => if active { K_DUP_PTR } else { K_CONST_PTR },
            _ => K_OTHER,
        };
        kinds.push(k);
        cparams.push(c);
    }
    let rt = ir::return_type(fn_ty);
    let ret_c = c_type(rt).ok_or_else(|| format!("the result has type `{}`", ir::type_to_string(rt)))?;
    let ret = match ret_c.as_str() {
        "double" => K_F64,
        "float" => K_F32,
        _ => 0,
    };
    Ok(CShape { kinds, params: cparams, ret_c, ret, reverse })
}

/// An external function `name` that calls `f` with its own arguments.
fn wrapper(b: &Builder, f: Value, name: &str) -> Value {
    let fn_ty = ir::function_type(f);
    let w = b.get_or_declare(name, fn_ty);
    unsafe {
        let entry = LLVMAppendBasicBlockInContext(LLVMGetModuleContext(ir::module_of_function(f)), w, b"entry\0".as_ptr() as *const _);
        b.position_at_end(entry);
        let r = b.call(fn_ty, f, &ir::params(w));
        b.ret(if ir::is_void(ir::return_type(fn_ty)) { None } else { Some(r) });
    }
    w
}

/// Before the magic call: `radx_check_hook(id, argv)` with `argv[i]` the address of a copy
/// of primal argument i.
fn hook(b: &Builder, call: Value, id: u64, primals: &[Value], fn_ty: Type) {
    let caller = ir::parent_function(call);
    let params = ir::param_types(fn_ty);
    let argv = b.entry_alloca(caller, ir::llvm::array_type(b.ptr_type(), primals.len().max(1) as u64));
    let slots: Vec<Value> = params.iter().map(|&t| b.entry_alloca(caller, t)).collect();
    b.position_before(call);
    for (i, (&v, &slot)) in primals.iter().zip(&slots).enumerate() {
        b.store(v, slot);
        b.store(slot, b.gep_bytes(argv, 8 * i as u64));
    }
    let hook_ty = unsafe { LLVMFunctionType(b.void_type(), [b.i32_type(), b.ptr_type()].as_ptr() as *mut _, 2, 0) };
    b.call_named("radx_check_hook", hook_ty, &[b.const_int(b.i32_type(), id), argv]);
}

/// The instrumented copy of `f` and of every function it calls (memoized in `probes`).
fn probe_of(b: &Builder, f: Value, probes: &mut HashMap<Value, Value>, sites: &mut Vec<String>) -> Value {
    if let Some(&p) = probes.get(&f) {
        return p;
    }
    let fn_ty = ir::function_type(f);
    let p = unsafe { LLVMAddFunction(ir::module_of_function(f), ir::cstring(&format!("radx.check.probe.{}", ir::name_of(f))).as_ptr(), fn_ty) };
    unsafe { LLVMSetLinkage(p, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
    probes.insert(f, p);
    let map = clone::clone_body(f, p, false);
    // Source order of the original, so site ids read in program order.
    let originals: Vec<Value> = ir::reverse_post_order(f).into_iter().flat_map(ir::instructions).collect();
    for src in originals {
        let Some(&inst) = map.get(&src) else { continue };
        if !ir::is_instruction(inst) {
            continue;
        }
        instrument_instruction(b, src, inst, probes, sites);
    }
    p
}

fn touch(b: &Builder, ptr: Value, bytes: Value, flags: u64) {
    let ty = unsafe { LLVMFunctionType(b.void_type(), [b.ptr_type(), b.i64_type(), b.i32_type()].as_ptr() as *mut _, 3, 0) };
    let bytes = if ir::type_of(bytes) == b.i64_type() { bytes } else { b.int_cast(bytes, b.i64_type(), false) };
    b.call_named("radx_check_touch", ty, &[ptr, bytes, b.const_int(b.i32_type(), flags)]);
}

fn type_flags(t: Type) -> u64 {
    match ir::type_kind(t) {
        llvm_sys::LLVMTypeKind::LLVMDoubleTypeKind => T_F64,
        llvm_sys::LLVMTypeKind::LLVMFloatTypeKind => T_F32,
        llvm_sys::LLVMTypeKind::LLVMPointerTypeKind => T_PTR,
        _ if ir::contains_float(t) => T_BYTES,
        _ => 0,
    }
}

fn instrument_instruction(b: &Builder, src: Value, inst: Value, probes: &mut HashMap<Value, Value>, sites: &mut Vec<String>) {
    let m = ir::module_of_function(ir::parent_function(inst));
    let size_of = |t: Type| b.const_int(b.i64_type(), ir::data_layout_type_size(m, t));
    match ir::opcode(inst) {
        Some(LLVMOpcode::LLVMLoad) => {
            b.position_before(inst);
            let t = ir::type_of(inst);
            touch(b, ir::operand(inst, 0), size_of(t), type_flags(t));
        }
        Some(LLVMOpcode::LLVMStore) => {
            b.position_before(inst);
            let t = ir::type_of(ir::operand(inst, 0));
            touch(b, ir::operand(inst, 1), size_of(t), T_STORE | type_flags(t));
        }
        Some(LLVMOpcode::LLVMCall) => {
            if let Some(callee) = ir::called_function(inst) {
                let name = ir::name_of(callee);
                let args = ir::call_args(inst);
                b.position_before(inst);
                if name.starts_with("llvm.memcpy") || name.starts_with("llvm.memmove") {
                    touch(b, args[1], args[2], T_BYTES);
                    touch(b, args[0], args[2], T_BYTES | T_STORE);
                } else if name.starts_with("llvm.memset") {
                    touch(b, args[0], args[2], T_BYTES | T_STORE);
                } else if !ir::is_declaration(callee) && abi::magic_kind(&name).is_none() && !name.starts_with("radx_check_") {
                    let p = probe_of(b, callee, probes, sites);
                    unsafe { LLVMSetOperand(inst, LLVMGetNumOperands(inst) as u32 - 1, p) };
                }
            }
        }
        _ => {}
    }
    let t = ir::type_of(inst);
    if !matches!(ir::type_kind(t), llvm_sys::LLVMTypeKind::LLVMDoubleTypeKind | llvm_sys::LLVMTypeKind::LLVMFloatTypeKind) {
        return;
    }
    let id = sites.len() as u64;
    let text = crate::diag::without_attachments(&ir::value_to_string(src)).trim().to_string();
    sites.push(match ir::source_loc(src) {
        Some(l) => format!("{}:{}:{}: `{text}`", l.file, l.line, l.column),
        None => format!("`{text}` in `{}` (no source line: build with -g)", ir::name_of(ir::parent_function(src))),
    });
    // After the value (after the last phi of its block for a phi).
    let mut at = unsafe { LLVMGetNextInstruction(inst) };
    while !at.is_null() && ir::opcode(at) == Some(LLVMOpcode::LLVMPHI) {
        at = unsafe { LLVMGetNextInstruction(at) };
    }
    if at.is_null() {
        return;
    }
    b.position_before(at);
    // Frozen: a value may be poison on a path that never uses it (an unrolled loop's exit
    // value when the loop did not run), and clang marks the recorder's parameter `noundef`,
    // so an unfrozen poison would make that path undefined and the optimizer delete it.
    let v = b.freeze(if ir::type_of(inst) == b.f64_type() { inst } else { b.fp_cast(inst, b.f64_type()) });
    let ty = unsafe { LLVMFunctionType(b.void_type(), [b.i32_type(), b.f64_type()].as_ptr() as *mut _, 2, 0) };
    b.call_named("radx_check_value", ty, &[b.const_int(b.i32_type(), id), v]);
}

fn c_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            // `??x` trigraphs are off by default in C11 and later; keep it plain.
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The thunks, the request table and the site table, in C.
fn thunks(requests: &[Request], sites: &[String], coverage: Coverage) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "/* ---- written by radx check for this program ---- */");
    let _ = writeln!(c, "extern int enzyme_dup, enzyme_const, enzyme_out;");
    let _ = writeln!(c, "void *__enzyme_register_derivative_radx_check_value[2] = {{(void *)radx_check_value, (void *)radx_check_value_fwd}};");
    let _ = writeln!(c, "void *__enzyme_register_derivative_radx_check_touch[2] = {{(void *)radx_check_touch, (void *)radx_check_touch_fwd}};");
    let mut table = Vec::new();
    for r in requests {
        let Some(s) = &r.c else {
            table.push(format!(
                "{{{}, {}, {}, {}, 0, 0, 0, 0, 0, 0, 0, 0}}",
                c_escape(&r.function),
                c_escape(&r.kind),
                c_escape(&r.location),
                c_escape(r.skip.as_deref().unwrap_or("it cannot be checked"))
            ));
            continue;
        };
        let id = r.id;
        let proto = if s.params.is_empty() { "void".to_string() } else { s.params.join(", ") };
        let _ = writeln!(c, "{} radx_check_primal_{id}({proto});\n{} radx_check_probe_{id}({proto});", s.ret_c, s.ret_c);
        let load = |i: usize| format!("*({} *)a[{i}]", s.params[i]);
        let primal_args: Vec<String> = (0..s.params.len()).map(load).collect();
        let store_ret = |call: String| if s.ret != 0 { format!("*r = (double){call};") } else { format!("{call}; (void)r;") };
        for (what, target) in [("primal", "primal"), ("probe", "probe")] {
            let _ = writeln!(c, "static void {what}_{id}(void **a, double *r) {{ {} }}", store_ret(format!("radx_check_{target}_{id}({})", primal_args.join(", "))));
        }
        // Forward mode: floats and duplicated pointers carry tangents.
        let fwd_decl = |name: &str| {
            let mut types = vec!["void *".to_string()];
            let mut args = vec![format!("(void *)radx_check_{name}_{id}")];
            for (i, &k) in s.kinds.iter().enumerate() {
                types.push("int".into());
                match k {
                    K_F64 | K_F32 => {
                        args.push(format!("enzyme_dup, {}, *({} *)t[{i}]", load(i), s.params[i]));
                        types.push(s.params[i].clone());
                        types.push(s.params[i].clone());
                    }
                    K_DUP_PTR => {
                        args.push(format!("enzyme_dup, {}, t[{i}]", load(i)));
                        types.push("void *".into());
                        types.push("void *".into());
                    }
                    _ => {
                        args.push(format!("enzyme_const, {}", load(i)));
                        types.push(s.params[i].clone());
                    }
                }
            }
            (types.join(", "), args.join(", "))
        };
        let fwd_ret = if s.ret != 0 { s.ret_c.clone() } else { "void".into() };
        let mut emit_fwd = |name: &str, thunk: &str| {
            let (types, args) = fwd_decl(name);
            let magic = format!("__enzyme_fwddiff_radx_check_{thunk}_{id}");
            let _ = writeln!(c, "{fwd_ret} {magic}({types});");
            let call = format!("{magic}({args})");
            let body = if s.ret != 0 { format!("*r = (double){call};") } else { format!("{call}; (void)r;") };
            let _ = writeln!(c, "static void {thunk}_{id}(void **a, void **t, double *r) {{ {body} }}");
        };
        let with_fwd = !s.reverse || coverage.dot_test;
        if with_fwd {
            emit_fwd("primal", "fwd");
        }
        if coverage.bisection {
            emit_fwd("probe", "fwdprobe");
        }
        if s.reverse {
            let mut types = vec!["void *".to_string()];
            let mut args = vec![format!("(void *)radx_check_primal_{id}")];
            let mut outs = Vec::new();
            for (i, &k) in s.kinds.iter().enumerate() {
                types.push("int".into());
                match k {
                    K_F64 | K_F32 => {
                        args.push(format!("enzyme_out, {}", load(i)));
                        types.push(s.params[i].clone());
                        outs.push((i, s.params[i].clone()));
                    }
                    K_DUP_PTR => {
                        args.push(format!("enzyme_dup, {}, s[{i}]", load(i)));
                        types.push("void *".into());
                        types.push("void *".into());
                    }
                    _ => {
                        args.push(format!("enzyme_const, {}", load(i)));
                        types.push(s.params[i].clone());
                    }
                }
            }
            let magic = format!("__enzyme_autodiff_radx_check_{id}");
            let call = format!("{magic}({})", args.join(", "));
            let body = match outs.len() {
                0 => {
                    let _ = writeln!(c, "void {magic}({});", types.join(", "));
                    format!("{call}; (void)adj;")
                }
                1 => {
                    let _ = writeln!(c, "{} {magic}({});", outs[0].1, types.join(", "));
                    format!("adj[{}] = {call};", outs[0].0)
                }
                _ => {
                    let fields: Vec<String> = outs.iter().map(|(i, t)| format!("{t} a{i};")).collect();
                    let _ = writeln!(c, "typedef struct {{ {} }} radx_check_adj_{id};", fields.join(" "));
                    let _ = writeln!(c, "radx_check_adj_{id} {magic}({});", types.join(", "));
                    let copies: Vec<String> = outs.iter().map(|(i, _)| format!("adj[{i}] = g.a{i};")).collect();
                    format!("radx_check_adj_{id} g = {call}; {}", copies.join(" "))
                }
            };
            let _ = writeln!(c, "static void rev_{id}(void **a, void **s, double *adj) {{ {body} }}");
        }
        let kinds: Vec<String> = s.kinds.iter().map(|k| k.to_string()).collect();
        let _ = writeln!(c, "static const int kinds_{id}[] = {{{}}};", if kinds.is_empty() { "0".into() } else { kinds.join(", ") });
        let opt = |on: bool, name: &str| if on { format!("{name}_{id}") } else { "0".into() };
        table.push(format!(
            "{{{}, {}, {}, 0, {}, kinds_{id}, {}, primal_{id}, probe_{id}, {}, {}, {}}}",
            c_escape(&r.function),
            c_escape(&r.kind),
            c_escape(&r.location),
            s.kinds.len(),
            s.ret,
            opt(with_fwd, "fwd"),
            opt(coverage.bisection, "fwdprobe"),
            opt(s.reverse, "rev"),
        ));
    }
    let _ = writeln!(c, "const radx_check_request radx_check_requests[] = {{\n  {}\n}};", if table.is_empty() { "{0}".into() } else { table.join(",\n  ") });
    let _ = writeln!(c, "const int radx_check_nrequests = {};", requests.len());
    let site_list: Vec<String> = sites.iter().map(|s| c_escape(s)).collect();
    let _ = writeln!(c, "const char *const radx_check_sites[] = {{\n  {}\n}};", if site_list.is_empty() { "0".into() } else { site_list.join(",\n  ") });
    c
}

