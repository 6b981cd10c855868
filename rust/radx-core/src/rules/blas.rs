//! BLAS through the C interface (`cblas_ddot`, `cblas_daxpy`, `cblas_dscal`, `cblas_dnrm2`,
//! `cblas_dgemv` and their `cblas_s*` float twins): derivative rules that call BLAS for the
//! tangents and adjoints instead of differentiating through a BLAS library (whose body is
//! not in the module). A rule is built for the activity pattern a request asks for, with the
//! signature a custom rule has (docs/custom-rules.md), and cached by the engine like one: a
//! constant vector gets no shadow work, a constant scale factor no adjoint.
//!
//! The tape of a split rule is a small heap record of the values its reverse reads: copies
//! of the vectors (made with `cblas_?copy`, so strides and their signs carry over) the primal
//! call may overwrite afterwards, and the result of `nrm2`.

use crate::diag::{Code, Diagnostic, Result};
use crate::ir::{self, builder::Builder, Type, Value};
use crate::request::{ArgActivity, ForwardRequest, RevArg, ReverseFunctions, ReverseRequest};
use crate::signature::{derivative_signature, signatures};
use llvm_sys::core::*;
use llvm_sys::LLVMRealPredicate::LLVMRealOEQ;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `T dot(n, x, incx, y, incy)`
    Dot,
    /// `void axpy(n, a, x, incx, y, incy)`: y += a x
    Axpy,
    /// `void scal(n, a, x, incx)`: x *= a
    Scal,
    /// `T nrm2(n, x, incx)`
    Nrm2,
    /// `void gemv(order, trans, m, n, alpha, A, lda, x, incx, beta, y, incy)`:
    /// y = alpha op(A) x + beta y
    Gemv,
}

/// (name, operation, single precision)
const ROUTINES: &[(&str, Op, bool)] = &[
    ("cblas_ddot", Op::Dot, false),
    ("cblas_daxpy", Op::Axpy, false),
    ("cblas_dscal", Op::Scal, false),
    ("cblas_dnrm2", Op::Nrm2, false),
    ("cblas_dgemv", Op::Gemv, false),
    ("cblas_sdot", Op::Dot, true),
    ("cblas_saxpy", Op::Axpy, true),
    ("cblas_sscal", Op::Scal, true),
    ("cblas_snrm2", Op::Nrm2, true),
    ("cblas_sgemv", Op::Gemv, true),
];

/// Is `f` a BLAS routine RadX has a rule for, declared as cblas.h declares it?
pub fn has_rule(f: Value) -> bool {
    routine(f).is_some()
}

#[derive(Clone, Copy)]
struct Routine {
    op: Op,
    single: bool,
    /// The integer type of sizes and strides (`blasint`: 32 bits, 64 with ILP64 builds).
    int: Type,
    elem: Type,
}

fn routine(f: Value) -> Option<Routine> {
    if !ir::is_declaration(f) {
        return None;
    }
    let name = ir::name_of(f);
    let &(_, op, single) = ROUTINES.iter().find(|(n, _, _)| *n == name)?;
    let params = ir::param_types(ir::function_type(f));
    // gemv's first two parameters are the layout and transpose enums.
    let int = *params.get(if op == Op::Gemv { 2 } else { 0 })?;
    let ctx = unsafe { LLVMGetTypeContext(int) };
    let elem = unsafe { if single { LLVMFloatTypeInContext(ctx) } else { LLVMDoubleTypeInContext(ctx) } };
    let expected = match op {
        Op::Dot => 5,
        Op::Axpy => 6,
        Op::Scal => 4,
        Op::Nrm2 => 3,
        Op::Gemv => 12,
    };
    (ir::is_integer(int) && params.len() == expected).then_some(Routine { op, single, int, elem })
}

impl Routine {
    fn prefix(&self) -> &'static str {
        if self.single {
            "cblas_s"
        } else {
            "cblas_d"
        }
    }

    fn dot(&self, b: &Builder, n: Value, x: Value, incx: Value, y: Value, incy: Value) -> Value {
        let t = unsafe { LLVMFunctionType(self.elem, [self.int, b.ptr_type(), self.int, b.ptr_type(), self.int].as_mut_ptr(), 5, 0) };
        b.call_named(&format!("{}dot", self.prefix()), t, &[n, x, incx, y, incy])
    }

    fn axpy(&self, b: &Builder, n: Value, a: Value, x: Value, incx: Value, y: Value, incy: Value) {
        let t = unsafe { LLVMFunctionType(b.void_type(), [self.int, self.elem, b.ptr_type(), self.int, b.ptr_type(), self.int].as_mut_ptr(), 6, 0) };
        b.call_named(&format!("{}axpy", self.prefix()), t, &[n, a, x, incx, y, incy]);
    }

    fn scal(&self, b: &Builder, n: Value, a: Value, x: Value, incx: Value) {
        let t = unsafe { LLVMFunctionType(b.void_type(), [self.int, self.elem, b.ptr_type(), self.int].as_mut_ptr(), 4, 0) };
        b.call_named(&format!("{}scal", self.prefix()), t, &[n, a, x, incx]);
    }

    /// A compact copy (stride 1) of the `n` elements `x` strides over, on the heap.
    fn copy(&self, b: &Builder, n: Value, x: Value, incx: Value) -> Value {
        let i64t = b.i64_type();
        let n64 = b.int_cast(n, i64t, true);
        let positive = unsafe { LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntSGT, n64, b.const_int(i64t, 0), NO_NAME) };
        let count = b.select(positive, n64, b.const_int(i64t, 0));
        let size = if self.single { 4 } else { 8 };
        let bytes = unsafe { LLVMBuildMul(b.raw(), count, b.const_int(i64t, size), NO_NAME) };
        let malloc_ty = unsafe { LLVMFunctionType(b.ptr_type(), [i64t].as_mut_ptr(), 1, 0) };
        let buf = b.call_named("malloc", malloc_ty, &[bytes]);
        let t = unsafe { LLVMFunctionType(b.void_type(), [self.int, b.ptr_type(), self.int, b.ptr_type(), self.int].as_mut_ptr(), 5, 0) };
        b.call_named(&format!("{}copy", self.prefix()), t, &[n, x, incx, buf, b.const_int(self.int, 1)]);
        buf
    }

    fn gemv(&self, b: &Builder, a: &[Value]) {
        let ptr = b.ptr_type();
        let e = ir::type_of(a[0]);
        let mut params = [e, e, self.int, self.int, self.elem, ptr, self.int, ptr, self.int, self.elem, ptr, self.int];
        let t = unsafe { LLVMFunctionType(b.void_type(), params.as_mut_ptr(), 12, 0) };
        b.call_named(&format!("{}gemv", self.prefix()), t, a);
    }

    /// `A += alpha x yᵀ` (m × n).
    fn ger(&self, b: &Builder, order: Value, m: Value, n: Value, alpha: Value, x: Value, incx: Value, y: Value, incy: Value, a: Value, lda: Value) {
        let ptr = b.ptr_type();
        let mut params = [ir::type_of(order), self.int, self.int, self.elem, ptr, self.int, ptr, self.int, ptr, self.int];
        let t = unsafe { LLVMFunctionType(b.void_type(), params.as_mut_ptr(), 10, 0) };
        b.call_named(&format!("{}ger", self.prefix()), t, &[order, m, n, alpha, x, incx, y, incy, a, lda]);
    }

    /// A heap copy of the m × n matrix `a` with leading dimension `lda`, in the same layout
    /// (the elements from the first to the last one the matrix uses).
    fn copy_matrix(&self, b: &Builder, order: Value, m: Value, n: Value, a: Value, lda: Value) -> Value {
        let i64t = b.i64_type();
        let wide = |v: Value| b.int_cast(v, i64t, true);
        let col_major = unsafe { LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntEQ, order, LLVMConstInt(ir::type_of(order), 102, 0), NO_NAME) };
        let (m, n, lda) = (wide(m), wide(n), wide(lda));
        let (lines, run) = (b.select(col_major, n, m), b.select(col_major, m, n));
        let zero = b.const_int(i64t, 0);
        let empty = unsafe {
            let a = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntSLE, lines, zero, NO_NAME);
            let c = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntSLE, run, zero, NO_NAME);
            b.or(a, c)
        };
        let count = unsafe { LLVMBuildAdd(b.raw(), LLVMBuildMul(b.raw(), lda, LLVMBuildSub(b.raw(), lines, b.const_int(i64t, 1), NO_NAME), NO_NAME), run, NO_NAME) };
        let count = b.select(empty, zero, count);
        let bytes = unsafe { LLVMBuildMul(b.raw(), count, b.const_int(i64t, if self.single { 4 } else { 8 }), NO_NAME) };
        let malloc_ty = unsafe { LLVMFunctionType(b.ptr_type(), [i64t].as_mut_ptr(), 1, 0) };
        let buf = b.call_named("malloc", malloc_ty, &[bytes]);
        b.memcpy(buf, a, bytes, 1);
        buf
    }

    /// `a / r`, and 0 where `r` is 0 (the norm's derivative at the origin: a subgradient).
    fn over_norm(&self, b: &Builder, a: Value, r: Value) -> Value {
        let zero = b.const_float(self.elem, 0.0);
        let is_zero = b.fcmp(LLVMRealOEQ, r, zero);
        b.select(is_zero, zero, b.fdiv(a, r))
    }
}

const NO_NAME: *const std::os::raw::c_char = b"\0".as_ptr() as *const _;

/// gemv's `trans` leaves A as it is (`CblasNoTrans`, `CblasConjNoTrans`: real data).
fn not_transposed(b: &Builder, trans: Value) -> Value {
    let t = ir::type_of(trans);
    unsafe {
        let no = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntEQ, trans, LLVMConstInt(t, 111, 0), NO_NAME);
        let conj_no = LLVMBuildICmp(b.raw(), llvm_sys::LLVMIntPredicate::LLVMIntEQ, trans, LLVMConstInt(t, 114, 0), NO_NAME);
        b.or(no, conj_no)
    }
}

/// (length of x, length of y) of `gemv(order, trans, m, n, ...)`.
fn gemv_lengths(b: &Builder, trans: Value, m: Value, n: Value) -> (Value, Value) {
    let no = not_transposed(b, trans);
    (b.select(no, n, m), b.select(no, m, n))
}

/// Parameters of a derivative laid out as `args` says: each primal parameter followed by
/// its shadows. Returns (primal, shadows) per primal parameter.
fn split_params(params: &[Value], dup: &[bool], width: usize) -> Vec<(Value, Vec<Value>)> {
    let mut out = Vec::new();
    let mut k = 0;
    for &d in dup {
        let p = params[k];
        k += 1;
        let mut shadows = Vec::new();
        if d {
            shadows.extend_from_slice(&params[k..k + width]);
            k += width;
        }
        out.push((p, shadows));
    }
    out
}

fn new_function(b: &Builder, name: &str, ty: Type) -> Value {
    let f = unsafe { LLVMAddFunction(b.module, ir::cstring(name).as_ptr(), ty) };
    unsafe { LLVMSetLinkage(f, llvm_sys::LLVMLinkage::LLVMInternalLinkage) };
    let entry = unsafe { LLVMAppendBasicBlockInContext(b.ctx, f, b"entry\0".as_ptr() as *const _) };
    b.position_at_end(entry);
    f
}

fn refuse_active_vector_into_constant(f: Value, what: &str) -> Diagnostic {
    Diagnostic::new(Code::Activity, format!("`{}` adds active data into {what}, which has no shadow", ir::name_of(f)))
        .hint("pass that vector with a shadow (enzyme_dup), or mark the other arguments enzyme_const")
}

/// The forward rule of BLAS routine `f` for `req`.
pub fn forward_rule(b: &Builder, f: Value, req: &ForwardRequest) -> Result<Value> {
    let r = routine(f).expect("a BLAS routine");
    let (ty, _) = derivative_signature(b, ir::function_type(f), req);
    let width = req.width as usize;
    let dup: Vec<bool> = req.args.iter().map(|a| *a == ArgActivity::Dup).collect();
    let g = new_function(b, &format!("fwddiffe{}{}", if width > 1 { width.to_string() } else { String::new() }, ir::name_of(f)), ty);
    let args = split_params(&ir::params(g), &dup, width);
    let p: Vec<Value> = args.iter().map(|(v, _)| *v).collect();
    let sh = |k: usize, lane: usize| args[k].1.get(lane).copied();
    let mut results = Vec::new();
    match r.op {
        Op::Dot => {
            let primal = r.dot(b, p[0], p[1], p[2], p[3], p[4]);
            if req.return_primal {
                results.push(primal);
            }
            if req.return_tangent {
                for lane in 0..width {
                    let mut t = b.const_float(r.elem, 0.0);
                    if let Some(dx) = sh(1, lane) {
                        t = b.fadd(t, r.dot(b, p[0], dx, p[2], p[3], p[4]));
                    }
                    if let Some(dy) = sh(3, lane) {
                        t = b.fadd(t, r.dot(b, p[0], p[1], p[2], dy, p[4]));
                    }
                    results.push(t);
                }
            }
        }
        Op::Axpy => {
            if (dup[1] || dup[2]) && !dup[4] {
                return Err(refuse_active_vector_into_constant(f, "`y`"));
            }
            for lane in 0..width {
                if let Some(dy) = sh(4, lane) {
                    if let Some(dx) = sh(2, lane) {
                        r.axpy(b, p[0], p[1], dx, p[3], dy, p[5]);
                    }
                    if let Some(da) = sh(1, lane) {
                        r.axpy(b, p[0], da, p[2], p[3], dy, p[5]);
                    }
                }
            }
            r.axpy(b, p[0], p[1], p[2], p[3], p[4], p[5]);
        }
        Op::Scal => {
            if dup[1] && !dup[2] {
                return Err(refuse_active_vector_into_constant(f, "`x`"));
            }
            // dx' = a dx + da x, with x before it is scaled.
            for lane in 0..width {
                if let Some(dx) = sh(2, lane) {
                    r.scal(b, p[0], p[1], dx, p[3]);
                    if let Some(da) = sh(1, lane) {
                        r.axpy(b, p[0], da, p[2], p[3], dx, p[3]);
                    }
                }
            }
            r.scal(b, p[0], p[1], p[2], p[3]);
        }
        Op::Gemv => {
            if (dup[4] || dup[5] || dup[7] || dup[9]) && !dup[10] {
                return Err(refuse_active_vector_into_constant(f, "`y`"));
            }
            let (_, ly) = gemv_lengths(b, p[1], p[2], p[3]);
            let one = b.const_float(r.elem, 1.0);
            for lane in 0..width {
                let Some(dy) = sh(10, lane) else { continue };
                // dy' = alpha op(A) dx + beta dy + alpha op(dA) x + dalpha op(A) x + dbeta y.
                match sh(7, lane) {
                    Some(dx) => r.gemv(b, &[p[0], p[1], p[2], p[3], p[4], p[5], p[6], dx, p[8], p[9], dy, p[11]]),
                    None => r.scal(b, ly, p[9], dy, p[11]),
                }
                if let Some(da) = sh(5, lane) {
                    r.gemv(b, &[p[0], p[1], p[2], p[3], p[4], da, p[6], p[7], p[8], one, dy, p[11]]);
                }
                if let Some(dalpha) = sh(4, lane) {
                    r.gemv(b, &[p[0], p[1], p[2], p[3], dalpha, p[5], p[6], p[7], p[8], one, dy, p[11]]);
                }
                if let Some(dbeta) = sh(9, lane) {
                    r.axpy(b, ly, dbeta, p[10], p[11], dy, p[11]);
                }
            }
            r.gemv(b, &p);
        }
        Op::Nrm2 => {
            let t = unsafe { LLVMFunctionType(r.elem, [r.int, b.ptr_type(), r.int].as_mut_ptr(), 3, 0) };
            let norm = b.call_named(&format!("{}nrm2", r.prefix()), t, &[p[0], p[1], p[2]]);
            if req.return_primal {
                results.push(norm);
            }
            if req.return_tangent {
                for lane in 0..width {
                    let tangent = match sh(1, lane) {
                        Some(dx) => r.over_norm(b, r.dot(b, p[0], p[1], p[2], dx, p[2]), norm),
                        None => b.const_float(r.elem, 0.0),
                    };
                    results.push(tangent);
                }
            }
        }
    }
    b.ret(b.pack(&results));
    Ok(g)
}

/// The augmented forward and reverse of BLAS routine `f` for the split request `req`.
pub fn split_rule(b: &Builder, f: Value, req: &ReverseRequest) -> Result<ReverseFunctions> {
    let r = routine(f).expect("a BLAS routine");
    let sig = signatures(b, req);
    let dup: Vec<bool> = req.args.iter().map(|a| *a == RevArg::Dup).collect();
    let active: Vec<bool> = req.args.iter().map(|a| *a == RevArg::Active).collect();
    match r.op {
        Op::Axpy if (active[1] || dup[2]) && !dup[4] => return Err(refuse_active_vector_into_constant(f, "`y`")),
        Op::Scal if active[1] && !dup[2] => return Err(refuse_active_vector_into_constant(f, "`x`")),
        Op::Gemv if (active[4] || dup[5] || dup[7] || active[9]) && !dup[10] => return Err(refuse_active_vector_into_constant(f, "`y`")),
        _ => {}
    }
    // The tape: three pointers (vector and matrix copies) and one element (a norm).
    let record = b.struct_type(&[b.ptr_type(), b.ptr_type(), b.ptr_type(), r.elem]);
    let malloc_ty = unsafe { LLVMFunctionType(b.ptr_type(), [b.i64_type()].as_mut_ptr(), 1, 0) };
    let free_ty = unsafe { LLVMFunctionType(b.void_type(), [b.ptr_type()].as_mut_ptr(), 1, 0) };
    let field = |tape: Value, k: u32| unsafe { LLVMBuildStructGEP2(b.raw(), record, tape, k, NO_NAME) };
    let null = unsafe { LLVMConstNull(b.ptr_type()) };

    // Augmented forward: save what the reverse reads, then run the routine.
    let aug = new_function(b, &format!("augmented_{}", ir::name_of(f)), sig.augmented);
    let args = split_params(&ir::params(aug), &dup, 1);
    let p: Vec<Value> = args.iter().map(|(v, _)| *v).collect();
    let tape = b.call_named("malloc", malloc_ty, &[b.const_int(b.i64_type(), 32)]);
    let (mut first, mut second, mut third, mut norm) = (null, null, null, b.const_float(r.elem, 0.0));
    let primal = match r.op {
        Op::Dot => {
            // dx += s y needs y; dy += s x needs x.
            if dup[1] {
                second = r.copy(b, p[0], p[3], p[4]);
            }
            if dup[3] {
                first = r.copy(b, p[0], p[1], p[2]);
            }
            Some(r.dot(b, p[0], p[1], p[2], p[3], p[4]))
        }
        Op::Axpy => {
            if active[1] {
                first = r.copy(b, p[0], p[2], p[3]);
            }
            r.axpy(b, p[0], p[1], p[2], p[3], p[4], p[5]);
            None
        }
        Op::Scal => {
            if active[1] {
                first = r.copy(b, p[0], p[2], p[3]);
            }
            r.scal(b, p[0], p[1], p[2], p[3]);
            None
        }
        Op::Gemv => {
            // x̄ and ā read A; Ā and ā read x; β̄ reads the y before the call.
            let (lx, ly) = gemv_lengths(b, p[1], p[2], p[3]);
            if dup[10] && (dup[7] || active[4]) {
                first = r.copy_matrix(b, p[0], p[2], p[3], p[5], p[6]);
            }
            if dup[10] && (dup[5] || active[4]) {
                second = r.copy(b, lx, p[7], p[8]);
            }
            if dup[10] && active[9] {
                third = r.copy(b, ly, p[10], p[11]);
            }
            r.gemv(b, &p);
            None
        }
        Op::Nrm2 => {
            if dup[1] {
                first = r.copy(b, p[0], p[1], p[2]);
            }
            let t = unsafe { LLVMFunctionType(r.elem, [r.int, b.ptr_type(), r.int].as_mut_ptr(), 3, 0) };
            let v = b.call_named(&format!("{}nrm2", r.prefix()), t, &[p[0], p[1], p[2]]);
            norm = v;
            Some(v)
        }
    };
    b.store(first, field(tape, 0));
    b.store(second, field(tape, 1));
    b.store(third, field(tape, 2));
    b.store(norm, field(tape, 3));
    let mut aug_results = vec![tape];
    if req.return_primal {
        aug_results.extend(primal);
    }
    b.ret(b.pack(&aug_results));

    // Reverse: the adjoints, from the tape.
    let rev = new_function(b, &format!("diffe{}", ir::name_of(f)), sig.combined_or_reverse);
    let params = ir::params(rev);
    let args = split_params(&params, &dup, 1);
    let p: Vec<Value> = args.iter().map(|(v, _)| *v).collect();
    let sh = |k: usize| args[k].1.first().copied();
    let tape = *params.last().unwrap();
    let seed = req.return_active.then(|| params[params.len() - 2]);
    let first = b.load(b.ptr_type(), field(tape, 0));
    let second = b.load(b.ptr_type(), field(tape, 1));
    let third = b.load(b.ptr_type(), field(tape, 2));
    let one = b.const_int(r.int, 1);
    let mut adjoints = Vec::new();
    match r.op {
        Op::Dot => {
            if let Some(s) = seed {
                if let Some(dx) = sh(1) {
                    r.axpy(b, p[0], s, second, one, dx, p[2]);
                }
                if let Some(dy) = sh(3) {
                    r.axpy(b, p[0], s, first, one, dy, p[4]);
                }
            }
        }
        Op::Axpy => {
            // y = y + a x: ȳ stays, x̄ += a ȳ, ā = x · ȳ.
            let dy = sh(4);
            if active[1] {
                adjoints.push(match dy {
                    Some(dy) => r.dot(b, p[0], first, one, dy, p[5]),
                    None => b.const_float(r.elem, 0.0),
                });
            }
            if let (Some(dx), Some(dy)) = (sh(2), dy) {
                r.axpy(b, p[0], p[1], dy, p[5], dx, p[3]);
            }
        }
        Op::Scal => {
            // x = a x: ā = x_old · x̄, then x̄ *= a.
            let dx = sh(2);
            if active[1] {
                adjoints.push(match dx {
                    Some(dx) => r.dot(b, p[0], first, one, dx, p[3]),
                    None => b.const_float(r.elem, 0.0),
                });
            }
            if let Some(dx) = dx {
                r.scal(b, p[0], p[1], dx, p[3]);
            }
        }
        Op::Gemv => {
            let (_, ly) = gemv_lengths(b, p[1], p[2], p[3]);
            let zero = b.const_float(r.elem, 0.0);
            let unit = b.const_float(r.elem, 1.0);
            let dy = sh(10);
            // ā = ȳ · op(A) x, β̄ = ȳ · y_old, before ȳ is scaled by beta.
            if active[4] {
                adjoints.push(match dy {
                    Some(dy) => {
                        let i64t = b.i64_type();
                        let bytes = unsafe { LLVMBuildMul(b.raw(), b.int_cast(ly, i64t, true), b.const_int(i64t, if r.single { 4 } else { 8 }), NO_NAME) };
                        let tmp = b.call_named("malloc", malloc_ty, &[bytes]);
                        r.gemv(b, &[p[0], p[1], p[2], p[3], unit, first, p[6], second, one, zero, tmp, one]);
                        let v = r.dot(b, ly, tmp, one, dy, p[11]);
                        b.call_named("free", free_ty, &[tmp]);
                        v
                    }
                    None => zero,
                });
            }
            if active[9] {
                adjoints.push(match dy {
                    Some(dy) => r.dot(b, ly, third, one, dy, p[11]),
                    None => zero,
                });
            }
            if let Some(dy) = dy {
                let no = not_transposed(b, p[1]);
                if let Some(dx) = sh(7) {
                    // x̄ += alpha op(A)ᵀ ȳ
                    let t = ir::type_of(p[1]);
                    let flipped = b.select(no, unsafe { LLVMConstInt(t, 112, 0) }, unsafe { LLVMConstInt(t, 111, 0) });
                    r.gemv(b, &[p[0], flipped, p[2], p[3], p[4], first, p[6], dy, p[11], unit, dx, p[8]]);
                }
                if let Some(da) = sh(5) {
                    // Ā += alpha ȳ xᵀ (A not transposed) or alpha x ȳᵀ (transposed).
                    let (u, incu) = (b.select(no, dy, second), b.select(no, p[11], one));
                    let (v, incv) = (b.select(no, second, dy), b.select(no, one, p[11]));
                    r.ger(b, p[0], p[2], p[3], p[4], u, incu, v, incv, da, p[6]);
                }
                r.scal(b, ly, p[9], dy, p[11]);
            }
        }
        Op::Nrm2 => {
            if let (Some(s), Some(dx)) = (seed, sh(1)) {
                let norm = b.load(r.elem, field(tape, 3));
                r.axpy(b, p[0], r.over_norm(b, s, norm), first, one, dx, p[2]);
            }
        }
    }
    b.call_named("free", free_ty, &[first]);
    b.call_named("free", free_ty, &[second]);
    b.call_named("free", free_ty, &[third]);
    b.call_named("free", free_ty, &[tape]);
    b.ret(b.pack(&adjoints));
    Ok(ReverseFunctions { forward: aug, reverse: rev })
}
