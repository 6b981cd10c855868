//! Memory facts for reverse mode: which objects a function may write (decides whether a
//! load can be repeated in the reverse sweep or its value must be cached), and what type of
//! data a block of memory holds (decides how `memcpy` accumulates adjoints).

use crate::ir::{self, Type, Value};
use crate::rules::{self, memory};
use llvm_sys::LLVMOpcode::*;
use crate::collections::{HashMap, HashSet};

/// What a pointer points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// An argument (`noalias` when the C code said `restrict`).
    Arg(Value, bool),
    /// Memory this function allocated (stack or heap): nothing else can name it.
    Local(Value),
    Global(Value),
    Unknown,
}

pub fn object_of(ptr: Value) -> Object {
    let base = ir::underlying_object(ptr);
    if ir::is_argument(base) {
        let f = unsafe { llvm_sys::core::LLVMGetParamParent(base) };
        let idx = ir::argument_number(base, f).unwrap_or(0) as u32;
        let noalias = unsafe { !llvm_sys::core::LLVMGetEnumAttributeAtIndex(f, idx + 1, ir::enum_attr_kind("noalias")).is_null() };
        return Object::Arg(base, noalias);
    }
    if ir::is_global_variable(base) {
        return Object::Global(base);
    }
    match ir::opcode(base) {
        Some(LLVMAlloca) => Object::Local(base),
        Some(LLVMCall)
            if ir::called_function(base)
                .map(|c| matches!(memory::allocator(&ir::name_of(c)), Some(memory::Alloc::Allocate { .. }) | Some(memory::Alloc::Reallocate)))
                .unwrap_or(false) =>
        {
            Object::Local(base)
        }
        _ => Object::Unknown,
    }
}

fn may_alias(a: Object, b: Object) -> bool {
    use Object::*;
    match (a, b) {
        (Unknown, _) | (_, Unknown) => true,
        (Local(x), Local(y)) => x == y,
        (Local(_), _) | (_, Local(_)) => false,
        (Global(x), Global(y)) => x == y,
        (Arg(x, _), Arg(y, _)) if x == y => true,
        (Arg(_, na), Arg(_, nb)) => !(na || nb),
        (Arg(_, n), Global(_)) | (Global(_), Arg(_, n)) => !n,
    }
}

/// Where a function writes memory: each write's object and instruction, for a
/// flow-sensitive question: can a write to this memory execute after this load?
pub struct MemoryFacts {
    /// (object written, the writing instruction); `Object::Unknown` for calls that may
    /// write anything.
    writes: Vec<(Object, Value)>,
    /// Blocks reachable from each block's end (through at least one edge).
    reach: Reachability,
}

impl MemoryFacts {
    pub fn new(f: Value) -> MemoryFacts {
        Self::with_prepared_callees(f, &HashMap::default())
    }

    /// `new`, reading each defined callee in its prepared copy (`prepared`: original to
    /// copy) where it has one: at -O0 the original keeps its arguments in stack slots, so
    /// what it writes through them is only visible after preparation.
    pub fn with_prepared_callees(f: Value, prepared: &HashMap<Value, Value>) -> MemoryFacts {
        let mut writes = Vec::new();
        let mut summaries = HashMap::default();
        for i in ir::all_instructions(f) {
            match ir::opcode(i) {
                Some(LLVMStore) => writes.push((object_of(ir::operand(i, 1)), i)),
                Some(LLVMAtomicRMW) | Some(LLVMAtomicCmpXchg) => writes.push((object_of(ir::operand(i, 0)), i)),
                Some(LLVMCall) => match call_writes(i, prepared, &mut summaries, 0) {
                    Some(objects) => writes.extend(objects.into_iter().map(|o| (o, i))),
                    None => writes.push((Object::Unknown, i)),
                },
                _ => {}
            }
        }
        MemoryFacts { writes, reach: Reachability::of(f) }
    }

    /// May the memory `load` reads change after the load, within the function? Only
    /// writes that can execute later count: a scratch array filled once before a loop
    /// that then only reads it need not be cached.
    pub fn may_be_overwritten(&self, load: Value, flow_sensitive: bool) -> bool {
        let o = object_of(ir::operand(load, 0));
        let lb = ir::parent_block(load);
        self.writes.iter().any(|(w, at)| may_alias(*w, o) && (!flow_sensitive || self.can_follow(lb, load, *at)))
    }

    /// Can instruction `later` execute after `earlier` (in block `eb`)?
    fn can_follow(&self, eb: ir::Block, earlier: Value, later: Value) -> bool {
        let lb = ir::parent_block(later);
        if self.reach.reaches(eb, lb).unwrap_or(true) {
            return true;
        }
        // Same block, no cycle through it: only what comes after in the block.
        lb == eb && ir::instructions(eb).iter().position(|&i| i == later) > ir::instructions(eb).iter().position(|&i| i == earlier)
    }
}

/// The objects a call may write, in the caller's terms; `None` when it may write anything.
/// A defined callee is read for what it writes (through which of its parameters, which
/// globals): LLVM leaves a helper that calls `lgamma` without any memory attribute, and
/// treating such a call as writing everything made every earlier load a cached one.
fn call_writes(call: Value, prepared: &HashMap<Value, Value>, summaries: &mut HashMap<Value, Option<CalleeWrites>>, depth: u32) -> Option<Vec<Object>> {
    let Some(callee) = ir::called_function(call) else { return None };
    let name = ir::name_of(callee);
    if rules::gpu::gpu_call(&name).is_some() {
        return Some(Vec::new());
    }
    if let Some(k) = rules::julia::julia_call(&name) {
        return if matches!(k, rules::julia::JuliaCall::Reject(_)) { None } else { Some(Vec::new()) };
    }
    if memory::memory_transfer(&name).is_some() {
        return Some(vec![object_of(ir::operand(call, 0))]);
    }
    let args = ir::call_args(call);
    if rules::rule_for_callee(&name).is_some()
        || memory::allocator(&name).is_some()
        || memory::is_inactive_function(&name) && !memory::writes_through_pointers(&name)
        || ir::llvm::function_only_reads(callee)
        || memory::writes_no_program_memory(&name) && args.iter().all(|a| !ir::is_pointer(ir::type_of(*a)))
    {
        return Some(Vec::new());
    }
    if ir::is_declaration(callee) {
        return None;
    }
    let body = prepared.get(&callee).copied().unwrap_or(callee);
    let summary = callee_writes(body, prepared, summaries, depth)?;
    let mut out: Vec<Object> = summary.globals.iter().map(|g| Object::Global(*g)).collect();
    for k in summary.params {
        out.push(args.get(k).map(|a| object_of(*a)).unwrap_or(Object::Unknown));
    }
    Some(out)
}

/// What a defined function may write outside its own stack and heap blocks.
#[derive(Clone, Debug)]
struct CalleeWrites {
    params: Vec<usize>,
    globals: Vec<Value>,
}

const CALLEE_SUMMARY_DEPTH: u32 = 4;

fn callee_writes(f: Value, prepared: &HashMap<Value, Value>, summaries: &mut HashMap<Value, Option<CalleeWrites>>, depth: u32) -> Option<CalleeWrites> {
    if let Some(known) = summaries.get(&f) {
        return known.clone();
    }
    if depth >= CALLEE_SUMMARY_DEPTH {
        return None;
    }
    // A recursive cycle reads as "anything" until the summary is done.
    summaries.insert(f, None);
    let params = ir::params(f);
    let mut out = CalleeWrites { params: Vec::new(), globals: Vec::new() };
    let note = |o: Object, out: &mut CalleeWrites| -> bool {
        match o {
            Object::Local(_) => {}
            Object::Global(g) => out.globals.push(g),
            Object::Arg(p, _) => match params.iter().position(|q| *q == p) {
                Some(k) => out.params.push(k),
                None => return false,
            },
            Object::Unknown => return false,
        }
        true
    };
    let mut complete = true;
    for i in ir::all_instructions(f) {
        let written = match ir::opcode(i) {
            Some(LLVMStore) => Some(vec![object_of(ir::operand(i, 1))]),
            Some(LLVMAtomicRMW) | Some(LLVMAtomicCmpXchg) => Some(vec![object_of(ir::operand(i, 0))]),
            Some(LLVMCall) | Some(LLVMInvoke) => call_writes(i, prepared, summaries, depth + 1),
            _ => continue,
        };
        if !written.map(|objects| objects.into_iter().all(|o| note(o, &mut out))).unwrap_or(false) {
            complete = false;
            break;
        }
    }
    let result = complete.then_some(out);
    summaries.insert(f, result.clone());
    result
}

/// Which blocks each block's end reaches (through at least one edge), as one bit row per
/// block: a set of blocks per block made this analysis quadratic in hashing on functions
/// of a few hundred blocks (GMM's gradient), where a bit row costs a few words.
struct Reachability {
    index: HashMap<ir::Block, usize>,
    words: usize,
    rows: Vec<u64>,
}

impl Reachability {
    fn of(f: Value) -> Reachability {
        let blocks = ir::blocks(f);
        let index: HashMap<ir::Block, usize> = blocks.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let words = blocks.len().div_ceil(64);
        let succs: Vec<Vec<usize>> = blocks.iter().map(|b| ir::successors(*b).iter().filter_map(|s| index.get(s).copied()).collect()).collect();
        let mut rows = vec![0u64; blocks.len() * words];
        // A fixed point of reach(b) = the union over successors s of {s} and reach(s);
        // visiting blocks from last to first settles acyclic code in one round.
        let mut changed = true;
        while changed {
            changed = false;
            for b in (0..blocks.len()).rev() {
                for &s in &succs[b] {
                    let mut grew = rows[b * words + s / 64] & (1 << (s % 64)) == 0;
                    rows[b * words + s / 64] |= 1 << (s % 64);
                    for w in 0..words {
                        let add = rows[s * words + w] & !rows[b * words + w];
                        if add != 0 {
                            rows[b * words + w] |= add;
                            grew = true;
                        }
                    }
                    changed |= grew;
                }
            }
        }
        Reachability { index, words, rows }
    }

    /// Does the end of `from` reach `to`? `None` for blocks of another function.
    fn reaches(&self, from: ir::Block, to: ir::Block) -> Option<bool> {
        let (f, t) = (*self.index.get(&from)?, *self.index.get(&to)?);
        Some(self.rows[f * self.words + t / 64] & (1 << (t % 64)) != 0)
    }
}

/// What the memory behind `ptrs` holds, judged from every load and store of `f` that
/// touches the same objects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryTypes {
    pub float: Option<Type>,
    pub conflicting_floats: bool,
    pub pointers: bool,
    pub integers: bool,
}

impl MemoryTypes {
    /// Something is known about the memory: what it holds, or that it holds no floats.
    pub fn known(&self) -> bool {
        self.float.is_some() || self.pointers || self.integers
    }

    /// What `self` and `other` say together: floats of two widths conflict.
    pub fn merge(&mut self, other: &MemoryTypes) {
        self.float = match (self.float, other.float) {
            (Some(a), Some(b)) if a != b => {
                self.conflicting_floats = true;
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self.conflicting_floats |= other.conflicting_floats;
        self.pointers |= other.pointers;
        self.integers |= other.integers;
    }
}

/// Enzyme's type hints, `__enzyme_double(ptr, bytes)` and friends: calls that only tell type
/// analysis what memory holds. They are removed after differentiation.
pub const TYPE_HINTS: &[&str] = &["__enzyme_float", "__enzyme_double", "__enzyme_integer", "__enzyme_pointer"];

pub fn memory_types(f: Value, ptrs: &[Value]) -> MemoryTypes {
    memory_types_skipping(f, ptrs, &[])
}

/// An integer atomic operation (`atomicrmw add i64`, an exchange of raw bits) on memory
/// that holds floating-point values elsewhere in `f`: no derivative can follow the value
/// through integer arithmetic, so it is refused rather than given a zero derivative.
pub fn refuse_integer_atomic_on_floats(f: Value, i: Value) -> crate::diag::Result<()> {
    if ir::contains_float(ir::type_of(i)) {
        return Ok(());
    }
    let v = ir::operand(i, 1);
    let held = memory_types_excluding(f, &[ir::operand(i, 0)], &[i]);
    // Where the value comes from: a float's bits, or bytes read from memory of no known type.
    let source = match ir::opcode(v) {
        Some(LLVMBitCast) => Some(ir::type_of(ir::operand(v, 0))).filter(|t| ir::is_float_scalar(*t)).map(Some),
        Some(LLVMLoad) => {
            let read = memory_types_excluding(f, &[ir::operand(v, 0)], &[v]);
            (read.float.is_some() || !read.known()).then_some(read.float)
        }
        _ => None,
    };
    let what = match (held.float, source) {
        (Some(t), _) | (None, Some(Some(t))) => format!("holds `{}` values", ir::type_to_string(t)),
        (None, Some(None)) if !held.known() => "may hold floating-point values (nothing in the function gives the bytes a type)".to_string(),
        _ => return Ok(()),
    };
    Err(crate::diag::Diagnostic::new(crate::diag::Code::Unsupported, format!("an integer atomic operation on memory that {what}: the derivative cannot follow the value through it"))
        .at(i)
        .hint("operate on the floating-point type itself (`__atomic_exchange` and `__atomic_fetch_add` of a double work), or mark the memory inactive with enzyme_const"))
}

/// `memory_types`, not counting the accesses `skip` (the access being judged).
pub fn memory_types_excluding(f: Value, ptrs: &[Value], skip: &[Value]) -> MemoryTypes {
    memory_types_skipping(f, ptrs, skip)
}

/// `memory_types`, not counting the accesses `skip`.
fn memory_types_skipping(f: Value, ptrs: &[Value], skip: &[Value]) -> MemoryTypes {
    let mut out = local_memory_types(f, ptrs, skip);
    let objs: Vec<Value> = ptrs.iter().map(|p| ir::underlying_object(*p)).collect();
    callee_memory_types(f, &objs, &mut out, &mut Vec::new(), 0);
    out
}

/// A copy's type is often only visible where the memory is passed on: follow pointer
/// arguments into the defined functions they are passed to (a few levels deep).
fn callee_memory_types(f: Value, objs: &[Value], out: &mut MemoryTypes, seen: &mut Vec<(Value, usize)>, depth: u32) {
    if depth >= 4 {
        return;
    }
    for i in ir::all_instructions(f) {
        let Some(callee) = ir::called_function(i).filter(|c| !ir::is_declaration(*c)) else { continue };
        for (k, a) in ir::call_args(i).into_iter().enumerate() {
            if !ir::is_pointer(ir::type_of(a)) || !objs.contains(&ir::underlying_object(a)) || seen.contains(&(callee, k)) {
                continue;
            }
            seen.push((callee, k));
            let p = ir::params(callee)[k];
            out.merge(&local_memory_types(callee, &[p], &[]));
            callee_memory_types(callee, &[p], out, seen, depth + 1);
        }
    }
}

/// Every object a pointer may point into: through GEPs and casts, and through the
/// incoming values of phis and selects (a buffer carried around a loop, or grown by
/// realloc, is one object for the question of what it holds).
pub fn underlying_objects(p: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = HashSet::default();
    let mut todo = vec![p];
    while let Some(v) = todo.pop() {
        let o = ir::underlying_object(v);
        if !seen.insert(o) {
            continue;
        }
        match ir::opcode(o) {
            Some(LLVMPHI) => unsafe {
                for k in 0..llvm_sys::core::LLVMCountIncoming(o) {
                    todo.push(llvm_sys::core::LLVMGetIncomingValue(o, k));
                }
            },
            Some(LLVMSelect) => {
                todo.push(ir::operand(o, 1));
                todo.push(ir::operand(o, 2));
            }
            _ if ir::is_null_or_undef(o) => {}
            _ => out.push(o),
        }
    }
    out
}

/// What `f`'s own accesses say about the objects behind `ptrs`.
fn local_memory_types(f: Value, ptrs: &[Value], skip: &[Value]) -> MemoryTypes {
    let objs: Vec<Value> = ptrs.iter().flat_map(|p| underlying_objects(*p)).collect();
    let mut out = MemoryTypes { float: None, conflicting_floats: false, pointers: false, integers: false };
    // The declared type of a stack or global object says what it holds.
    for &o in &objs {
        if ir::opcode(o) == Some(LLVMAlloca) {
            note_type(&mut out, unsafe { llvm_sys::core::LLVMGetAllocatedType(o) });
        } else if ir::is_global_variable(o) {
            note_type(&mut out, unsafe { llvm_sys::core::LLVMGlobalGetValueType(o) });
        }
    }
    let b = crate::ir::builder::Builder::new(ir::module_of_function(f));
    for i in ir::all_instructions(f) {
        if skip.contains(&i) {
            continue;
        }
        let (ptr, ty) = match ir::opcode(i) {
            Some(LLVMLoad) => (ir::operand(i, 0), ir::type_of(i)),
            Some(LLVMStore) => (ir::operand(i, 1), ir::type_of(ir::operand(i, 0))),
            Some(LLVMCall) => {
                let Some(c) = ir::called_function(i) else { continue };
                let hint = match ir::name_of(c).as_str() {
                    "__enzyme_double" => b.f64_type(),
                    "__enzyme_float" => unsafe { llvm_sys::core::LLVMFloatTypeInContext(b.ctx) },
                    "__enzyme_integer" => b.i64_type(),
                    "__enzyme_pointer" => b.ptr_type(),
                    _ => continue,
                };
                (ir::operand(i, 0), hint)
            }
            _ => continue,
        };
        if !underlying_objects(ptr).iter().any(|o| objs.contains(o)) {
            continue;
        }
        note_type(&mut out, ty);
    }
    out
}

/// What a declared type (of an alloca, a global) says the memory holds.
pub fn note_declared_type(out: &mut MemoryTypes, ty: Type) {
    note_type(out, ty)
}

fn note_type(out: &mut MemoryTypes, ty: Type) {
    use llvm_sys::LLVMTypeKind::*;
    match ir::type_kind(ty) {
        LLVMStructTypeKind => ir::struct_fields(ty).into_iter().for_each(|t| note_type(out, t)),
        LLVMArrayTypeKind | LLVMVectorTypeKind => note_type(out, ir::element_type(ty)),
        LLVMPointerTypeKind => out.pointers = true,
        LLVMIntegerTypeKind => out.integers = true,
        _ if ir::is_float_scalar(ty) => match out.float {
            None => out.float = Some(ty),
            Some(t) if t != ty => out.conflicting_floats = true,
            _ => {}
        },
        _ => {}
    }
}

/// Retypes integer moves of float data, which canonicalisation makes of small copies (an
/// 8-byte `memcpy` becomes `load i64` + `store i64`, and a load that reads it back becomes a
/// `bitcast` of the `i64`). The bits moved stay the same; the reverse sweep then sees float
/// data and hands the copied adjoints on instead of zeroing them as integer data.
/// * `store iN (bitcast float %v)` stores `%v` itself;
/// * a non-volatile `load iN` whose uses are stores of it and bitcasts to one float type of N
///   bits loads that type; without bitcasts, the memory it moves between must be accessed
///   otherwise only as that float type.
pub fn retype_float_moves(f: Value) {
    use llvm_sys::core::*;
    let m = ir::module_of_function(f);
    let size = |t: Type| ir::data_layout_type_size(m, t);
    let simple = |i: Value| unsafe { LLVMGetVolatile(i) == 0 && LLVMGetOrdering(i) == llvm_sys::LLVMAtomicOrdering::LLVMAtomicOrderingNotAtomic };
    let float_cast = |v: Value| {
        (ir::opcode(v) == Some(LLVMBitCast) && ir::is_float_scalar(ir::type_of(ir::operand(v, 0))) && ir::is_integer(ir::type_of(v)))
            .then(|| ir::operand(v, 0))
    };
    // Everything is decided before anything is deleted.
    let mut dead_casts = Vec::new();
    // `__atomic_exchange` of a double or float: clang exchanges its bits as an integer.
    // Exchanged as the float it is, the value's derivative goes where the value goes, and
    // the old value's integer result becomes a cast the stores below see through.
    for x in ir::all_instructions(f) {
        let xchg = ir::opcode(x) == Some(LLVMAtomicRMW) && unsafe { LLVMGetAtomicRMWBinOp(x) } == llvm_sys::LLVMAtomicRMWBinOp::LLVMAtomicRMWBinOpXchg;
        let Some(v) = xchg.then(|| float_cast(ir::operand(x, 1))).flatten() else { continue };
        let b = crate::ir::builder::Builder::new(m);
        b.position_before(x);
        unsafe {
            let nx = LLVMBuildAtomicRMW(b.raw(), llvm_sys::LLVMAtomicRMWBinOp::LLVMAtomicRMWBinOpXchg, ir::operand(x, 0), v, LLVMGetOrdering(x), LLVMIsAtomicSingleThread(x));
            LLVMSetAlignment(nx, LLVMGetAlignment(x));
            LLVMSetVolatile(nx, LLVMGetVolatile(x));
            dead_casts.push(ir::operand(x, 1));
            // Casts of the old bits back to the float are the float itself: an integer in
            // between would carry no adjoint.
            for u in ir::users(x) {
                if ir::opcode(u) == Some(LLVMBitCast) && ir::type_of(u) == ir::type_of(v) {
                    ir::replace_all_uses(u, nx);
                    ir::delete_instruction(u);
                }
            }
            if ir::has_uses(x) {
                let bits = LLVMBuildBitCast(b.raw(), nx, ir::type_of(x), b"\0".as_ptr() as *const _);
                ir::replace_all_uses(x, bits);
            }
            ir::delete_instruction(x);
        }
    }
    for s in ir::all_instructions(f) {
        if ir::opcode(s) == Some(LLVMStore) && simple(s) {
            if let Some(v) = float_cast(ir::operand(s, 0)) {
                dead_casts.push(ir::operand(s, 0));
                ir::set_operand(s, 0, v);
            }
        }
    }
    let mut moves = Vec::new();
    for l in ir::all_instructions(f) {
        if ir::opcode(l) != Some(LLVMLoad) || !ir::is_integer(ir::type_of(l)) || !simple(l) || !ir::has_uses(l) {
            continue;
        }
        let mut users = ir::users(l);
        users.sort();
        users.dedup();
        let ok = users.iter().all(|&u| match ir::opcode(u) {
            Some(LLVMStore) => ir::operand(u, 0) == l && ir::operand(u, 1) != l && simple(u),
            Some(LLVMBitCast) => ir::is_float_scalar(ir::type_of(u)),
            _ => false,
        });
        if ok {
            moves.push((l, users));
        }
    }
    let skip: Vec<Value> = moves.iter().flat_map(|(l, u)| std::iter::once(*l).chain(u.iter().copied())).collect();
    let mut retyped = Vec::new();
    for (l, users) in moves {
        let (casts, stores): (Vec<Value>, Vec<Value>) = users.into_iter().partition(|u| ir::opcode(*u) == Some(LLVMBitCast));
        let mut cast_types: Vec<Type> = casts.iter().map(|c| ir::type_of(*c)).collect();
        cast_types.sort();
        cast_types.dedup();
        let ft = match cast_types[..] {
            [t] => t,
            [] => {
                let mut ptrs = vec![ir::operand(l, 0)];
                ptrs.extend(stores.iter().map(|s| ir::operand(*s, 1)));
                let t = memory_types_skipping(f, &ptrs, &skip);
                match t.float {
                    Some(ft) if !t.conflicting_floats && !t.pointers && !t.integers && ir::is_float_scalar(ft) => ft,
                    _ => continue,
                }
            }
            _ => continue,
        };
        if size(ft) == size(ir::type_of(l)) {
            retyped.push((l, ft, casts, stores));
        }
    }
    let b = crate::ir::builder::Builder::new(m);
    for (l, ft, casts, stores) in retyped {
        b.position_before(l);
        let nl = b.load(ft, ir::operand(l, 0));
        unsafe { LLVMSetAlignment(nl, LLVMGetAlignment(l)) };
        for c in casts {
            ir::replace_all_uses(c, nl);
            ir::delete_instruction(c);
        }
        for s in stores {
            b.position_before(s);
            let ns = b.store(nl, ir::operand(s, 1));
            unsafe { LLVMSetAlignment(ns, LLVMGetAlignment(s)) };
            ir::delete_instruction(s);
        }
        ir::delete_instruction(l);
    }
    dead_casts.sort();
    dead_casts.dedup();
    for c in dead_casts {
        if !ir::has_uses(c) {
            ir::delete_instruction(c);
        }
    }
}

/// One element of a block of memory as the program's own types describe it: its size and
/// where in it the floating-point values are. Copies of memory mixing floats with integers
/// or pointers accumulate adjoints at exactly those offsets.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementLayout {
    pub size: u64,
    pub floats: Vec<(u64, Type)>,
}

/// The layout of the memory behind `ptrs`, from the type of its stack or global object or
/// from the struct types the function's address computations use on it.
pub fn element_layout(f: Value, ptrs: &[Value]) -> Option<ElementLayout> {
    let m = ir::module_of_function(f);
    let objs: Vec<Value> = ptrs.iter().flat_map(|p| underlying_objects(*p)).collect();
    let mut candidates = Vec::new();
    for &o in &objs {
        if ir::opcode(o) == Some(LLVMAlloca) {
            candidates.push(unsafe { llvm_sys::core::LLVMGetAllocatedType(o) });
        } else if ir::is_global_variable(o) {
            candidates.push(unsafe { llvm_sys::core::LLVMGlobalGetValueType(o) });
        }
    }
    for i in ir::all_instructions(f) {
        if ir::opcode(i) == Some(LLVMGetElementPtr) && underlying_objects(i).iter().any(|o| objs.contains(o)) {
            candidates.push(unsafe { llvm_sys::core::LLVMGetGEPSourceElementType(i) });
        }
    }
    let mut element = None;
    for mut t in candidates {
        while ir::type_kind(t) == llvm_sys::LLVMTypeKind::LLVMArrayTypeKind {
            t = ir::element_type(t);
        }
        if ir::type_kind(t) == llvm_sys::LLVMTypeKind::LLVMStructTypeKind {
            element = Some(t);
            break;
        }
    }
    let t = element?;
    let mut floats = Vec::new();
    float_leaves(m, t, 0, &mut floats);
    Some(ElementLayout { size: ir::data_layout_type_size(m, t), floats })
}

fn float_leaves(m: llvm_sys::prelude::LLVMModuleRef, t: Type, at: u64, out: &mut Vec<(u64, Type)>) {
    use llvm_sys::LLVMTypeKind::*;
    unsafe {
        match ir::type_kind(t) {
            LLVMStructTypeKind => {
                let dl = llvm_sys::target::LLVMGetModuleDataLayout(m);
                for (k, ft) in ir::struct_fields(t).into_iter().enumerate() {
                    float_leaves(m, ft, at + llvm_sys::target::LLVMOffsetOfElement(dl, t, k as u32), out);
                }
            }
            LLVMArrayTypeKind | LLVMVectorTypeKind => {
                let e = ir::element_type(t);
                let n = if ir::type_kind(t) == LLVMArrayTypeKind { ir::llvm::array_length(t) } else { llvm_sys::core::LLVMGetVectorSize(t) as u64 };
                let size = ir::data_layout_type_size(m, e);
                for j in 0..n {
                    float_leaves(m, e, at + j * size, out);
                }
            }
            _ if ir::is_float_scalar(t) => out.push((at, t)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;
    use inkwell::values::AsValueRef;

    /// `f` loads `%x[0]`, then calls `helper` (whose body is `helper_body`, taking `%y` and
    /// `%x`), then loads `%x[0]` again: is the first load's memory overwritten afterwards?
    /// `restrict` puts `noalias` on both arguments.
    fn first_load_overwritten(helper_body: &str, restrict: bool) -> bool {
        let x_attr = if restrict { "noalias " } else { "" };
        let ir = format!(
            r#"
@state = global double 0.0
@slot = global ptr null
declare double @lgamma(double)
declare double @opaque(ptr)

define internal void @inner(ptr %p, double %v) {{
  store double %v, ptr %p
  ret void
}}

define internal double @helper(ptr %y, ptr %x) {{
entry:
{helper_body}
  ret double 0.0
}}

define double @f(ptr {x_attr}%x, ptr {x_attr}%y) {{
entry:
  %a = load double, ptr %x
  %h = call double @helper(ptr %y, ptr %x)
  %b = load double, ptr %x
  %s = fadd double %a, %b
  ret double %s
}}
"#
        );
        let ctx = Context::create();
        let buf = MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), "helper");
        let module = ctx.create_module_from_ir(buf).expect("the test IR parses");
        let f = module.get_function("f").unwrap().as_value_ref();
        let first_load = ir::all_instructions(f).into_iter().find(|&i| ir::opcode(i) == Some(LLVMLoad)).unwrap();
        MemoryFacts::new(f).may_be_overwritten(first_load, true)
    }

    #[test]
    fn a_helper_calling_lgamma_and_writing_another_argument_keeps_loads_repeatable() {
        let body = "  %g = call double @lgamma(double 2.0)\n  store double %g, ptr %y\n  call void @inner(ptr %y, double %g)\n";
        assert!(!first_load_overwritten(body, true));
        // Without `noalias` the two arguments may be the same memory.
        assert!(first_load_overwritten(body, false));
    }

    #[test]
    fn a_helper_writing_through_the_loaded_argument_or_anything_unknown_overwrites() {
        assert!(first_load_overwritten("  call void @inner(ptr %x, double 1.0)\n", true));
        assert!(first_load_overwritten("  %q = load ptr, ptr @slot\n  store double 1.0, ptr %q\n", true));
        assert!(first_load_overwritten("  %o = call double @opaque(ptr %y)\n", true));
    }

    #[test]
    fn a_helper_writing_a_global_or_its_own_scratch_leaves_arguments_alone() {
        let body = "  %t = alloca double\n  store double 1.0, ptr %t\n  store double 2.0, ptr @state\n";
        assert!(!first_load_overwritten(body, true));
    }
}
