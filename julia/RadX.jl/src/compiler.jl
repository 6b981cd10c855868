# From a Julia call to JIT-compiled entry points: the GPUCompiler job, the libradx request,
# the entry wrappers, Julia's lowering pipeline and the ORC JIT, and the compile cache.

"""
    RadXParams()

GPUCompiler parameters of RadX's CPU jobs (Julia's own runtime, no GPU runtime library).
"""
struct RadXParams <: GPUCompiler.AbstractCompilerParams end

module Runtime end
GPUCompiler.runtime_module(::GPUCompiler.CompilerJob{<:Any,RadXParams}) = Runtime

"""
    isghost(T) -> Bool

Whether Julia's code generator drops an argument of type `T` from the LLVM signature:
zero-sized immutables (singleton functions, `nothing`) and `Type{X}` constants.
"""
isghost(@nospecialize(T)) = Core.Compiler.isconstType(T) ||
    (T isa DataType && isbitstype(T) && !ismutabletype(T) && sizeof(T) == 0)

kind_of(::Type{<:Const}) = :const
kind_of(::Type{<:Active}) = :active
kind_of(::Type{<:Duplicated}) = :dup
kind_of(::Type{<:DuplicatedNoNeed}) = :dup_noneed
kind_of(::Type{<:BatchDuplicated}) = :dup

ret_kind(::Type{<:Const}) = :const
ret_kind(::Type{<:Active}) = :active
ret_kind(::Type{<:Duplicated}) = :dup
ret_kind(::Type{<:BatchDuplicated}) = :dup
ret_kind(::Type{<:DuplicatedNoNeed}) = :dup_noneed

mode_symbol(::ForwardMode) = :forward
mode_symbol(::ReverseMode) = :combined
mode_symbol(::ReverseModeSplit) = :split

"""
    primal_return_type(f, argtypes) -> Type

The inferred return type of `f(args...)` for arguments of types `argtypes` (`Any` when
inference gives up or several methods match).
"""
function primal_return_type(@nospecialize(f), @nospecialize(argtypes::Tuple))
    rts = Base.return_types(f, Tuple{argtypes...})
    return length(rts) == 1 ? rts[1] : Any
end

"""
    return_type_of(FT, argtypes) -> Type

As [`primal_return_type`](@ref) from the function's type alone (device code knows only
types): singleton functions through their instance, closures through inference on the
full signature.
"""
function return_type_of(@nospecialize(FT::Type), @nospecialize(argtypes::Tuple))
    isdefined(FT, :instance) && return primal_return_type(FT.instance, argtypes)
    try
        return Core.Compiler.return_type(Tuple{FT,argtypes...}, Base.get_world_counter())
    catch
        return Any
    end
end

"""
    make_plan(mode, FA, RA, argannots, RT) -> Plan

The type-level [`Plan`](@ref) of a request: `FA` is the annotation type of the function,
`argannots` those of the arguments, `RA` the return annotation (a `UnionAll` such as
`Active` is fine) and `RT` the primal return type.
"""
function make_plan(mode::Mode, @nospecialize(FA::Type), @nospecialize(RA), argannots::Tuple, @nospecialize(RT::Type))
    annots = (FA, argannots...)
    args = ArgPlan[]
    width = 1
    for (i, A) in enumerate(annots)
        T = primal_type(A)
        isghost(T) && continue
        w = shadow_count(A)
        A <: BatchDuplicated && (width = w)
        push!(args, ArgPlan(i, kind_of(A), w, T))
    end
    if RT === Any || !(isconcretetype(RT) || RT === Nothing || RT === Union{})
        throw(ArgumentError("RadX: the return type of the function is not inferred to a concrete type ($RT); make the function type-stable"))
    end
    return Plan(mode_symbol(mode), args, width, return_primal(mode), RT, ret_kind(RA))
end

# ---- the compile cache ---------------------------------------------------------------------

"""
    Compiled

A compiled derivative: the entry points (one, or the augmented forward and the reverse
pass in split mode), the [`Plan`](@ref) their slots follow, what libradx generated, and the
libradx report.
"""
struct Compiled
    entries::Vector{Ptr{Cvoid}}
    names::Vector{String}
    plan::Plan
    functions::Vector{GeneratedFunction}
    tape_type::Union{Nothing,String}
    report::String
end

const CACHE = Dict{Any,Any}()
const CACHE_LOCK = ReentrantLock()
const ENTRY_COUNTER = Threads.Atomic{Int}(0)

"""
    reset_caches!()

Forgets every compiled derivative (the JIT keeps the code; new calls compile afresh).
"""
reset_caches!() = lock(() -> empty!(CACHE), CACHE_LOCK)

"""
    cached(builder, key)

The cache entry for `key` (function type, argument types, activities, mode and the world
age), built by `builder()` on first use. Compilation of one key happens once even when
several tasks ask at the same time.
"""
function cached(builder, key)
    lock(CACHE_LOCK) do
        get!(builder, CACHE, key)
    end
end

# ---- from a method instance to an LLVM module ------------------------------------------

"""
    primal_job(FT, argtypes; world) -> GPUCompiler.CompilerJob

The GPUCompiler job that emits the stage-1 LLVM IR RadX differentiates: native target with
Julia's runtime, `specfunc` ABI, unoptimized (Julia's address spaces and GC intrinsics
still present), no cleanup, no validation.
"""
function primal_job(@nospecialize(FT::Type), @nospecialize(argtypes::Tuple); world=Base.get_world_counter())
    mi = GPUCompiler.methodinstance(FT, Tuple{argtypes...}, world)
    target = GPUCompiler.NativeCompilerTarget(; jlruntime=true)
    config = GPUCompiler.CompilerConfig(target, RadXParams(); kernel=false, entry_abi=:specfunc,
                                        optimize=false, cleanup=false, validate=false, libraries=false)
    return GPUCompiler.CompilerJob(mi, config, world)
end

function has_param_attr(f::LLVM.Function, i::Int, attr::String)
    kind = LLVM.API.LLVMGetEnumAttributeKindForName(attr, length(attr))
    return LLVM.API.LLVMGetEnumAttributeAtIndex(f, UInt32(i), kind) != C_NULL
end

"""
    param_map(entry, plan) -> ParamMap

Maps the LLVM parameters of the primal `entry` to the plan's arguments, recognising an
`sret` buffer. Throws for calling conventions RadX.jl cannot map yet (return roots, ...).
"""
function param_map(entry::LLVM.Function, plan::Plan)
    n = length(LLVM.parameters(entry))
    m = length(plan.args)
    if n == m + 1 && has_param_attr(entry, 1, "sret")
        plan.mode === :split && throw(ArgumentError("RadX: split mode of a function returning $(plan.RT) through memory (sret) is not supported yet"))
        return ParamMap(true, [0; collect(1:m)])
    elseif n == m
        return ParamMap(false, collect(1:m))
    end
    throw(ArgumentError("RadX: `$(LLVM.name(entry))` has $n LLVM parameters for $m non-ghost Julia arguments; " *
                        "this calling convention (return roots, boxed unions) is not supported by RadX.jl yet"))
end

"""
    request_for(entry, plan, pmap; flags) -> Request

The libradx request for the primal `entry`: one activity per LLVM parameter (an `Active`
immutable passed by reference becomes `DUP`, the wrapper supplies its zeroed shadow; an
sret buffer is `DUP`), the return activity, the mode and the width.
"""
function request_for(entry::LLVM.Function, plan::Plan, pmap::ParamMap; flags::UInt32=UInt32(0))
    ptys = [LLVM.value_type(p) for p in LLVM.parameters(entry)]
    acts = Int32[]
    for (p, t) in enumerate(ptys)
        k = pmap.arg_of_param[p]
        if k == 0
            push!(acts, ACTIVITY_DUP)
            continue
        end
        a = plan.args[k]
        push!(acts, a.kind === :const ? ACTIVITY_CONST :
                    a.kind === :active ? (t isa LLVM.PointerType ? ACTIVITY_DUP : ACTIVITY_ACTIVE) :
                    a.kind === :dup_noneed ? ACTIVITY_DUP_NONEED : ACTIVITY_DUP)
    end
    mode = plan.mode === :forward ? MODE_FORWARD : plan.mode === :combined ? MODE_REVERSE_COMBINED : MODE_REVERSE_PRIMAL
    ret = if pmap.sret || !returns_value(plan)
        ACTIVITY_DEFAULT
    elseif plan.ret === :const
        ACTIVITY_CONST
    elseif plan.ret === :active
        plan.mode === :forward ? ACTIVITY_DUP : ACTIVITY_ACTIVE
    elseif plan.ret === :dup_noneed
        plan.mode === :forward ? ACTIVITY_DUP_NONEED : ACTIVITY_DUP
    else
        ACTIVITY_DUP
    end
    primal = plan.return_primal && returns_value(plan) && !pmap.sret
    # Every module RadX returns goes through Julia's own -O2 pipeline (`jit!`, or the outer
    # kernel's for deferred calls): libradx's cleanup of the derivatives would be done twice.
    return Request(; function_name=LLVM.name(entry), mode, width=plan.width, activities=acts,
                   return_activity=ret, return_primal=primal, flags=flags | FLAG_NO_POSTOPT)
end

# ---- linking and JIT ----------------------------------------------------------------------

"""
    relocate_globals!(mod, meta)

Gives the globals that stand for Julia objects their addresses (GPUCompiler versions that
report them in `meta.gv_to_value`; older ones leave Julia's initializers in place).
"""
function relocate_globals!(mod::LLVM.Module, meta)
    hasproperty(meta, :gv_to_value) || return nothing
    gs = LLVM.globals(mod)
    for (name, ptr) in meta.gv_to_value
        ptr == C_NULL && continue
        haskey(gs, name) || continue
        gv = gs[name]
        ty = LLVM.global_value_type(gv)
        ty isa LLVM.PointerType || continue
        LLVM.initializer!(gv, LLVM.const_inttoptr(LLVM.ConstantInt(reinterpret(UInt, ptr)), ty))
        LLVM.linkage!(gv, LLVM.API.LLVMPrivateLinkage)
        LLVM.constant!(gv, true)
    end
    return nothing
end

const ORC = Ref{Any}(nothing)

function orc()
    if ORC[] === nothing
        lock(CACHE_LOCK) do
            if ORC[] === nothing
                jit = LLVM.JuliaOJIT()
                jd = LLVM.JITDylib(jit)
                LLVM.add!(jd, LLVM.CreateDynamicLibrarySearchGeneratorForProcess(LLVM.get_prefix(jit)))
                ORC[] = jit
            end
        end
    end
    return ORC[]
end

"""
    jit!(mod, meta, entry_names) -> Vector{Ptr{Cvoid}}

Makes everything but the entry wrappers internal, lowers the module with Julia's pipeline
(GC lowering included), adds it to Julia's ORC JIT and returns the wrappers' addresses.
"""
function jit!(mod::LLVM.Module, meta, entry_names::Vector{String})
    relocate_globals!(mod, meta)
    for f in LLVM.functions(mod)
        LLVM.isdeclaration(f) && continue
        LLVM.name(f) in entry_names && continue
        LLVM.linkage!(f, LLVM.API.LLVMInternalLinkage)
    end
    LLVM.verify(mod)
    buf = convert(LLVM.MemoryBuffer, mod)
    tsm = LLVM.@dispose tsctx = LLVM.ThreadSafeContext() begin
        LLVM.ThreadSafeModule(parse(LLVM.Module, buf))
    end
    tsm() do m
        LLVM.run!(LLVM.Interop.JuliaPipeline(; opt_level=2), m)
    end
    jit = orc()
    LLVM.add!(jit, LLVM.JITDylib(jit), tsm)
    return Ptr{Cvoid}[pointer(LLVM.lookup(jit, n)) for n in entry_names]
end

fresh_entry_name(k) = "radx_entry_$(Threads.atomic_add!(ENTRY_COUNTER, 1))_$(k)"

"""
    differentiate_entry(mod, entry, plan; rules, flags) -> (mod, outcome, pmap)

Asks libradx for the derivative of `entry` in `mod` as the plan says, with the custom
rules registered for functions of this module.
"""
function differentiate_entry(mod::LLVM.Module, meta, entry::LLVM.Function, plan::Plan; flags::UInt32=UInt32(0))
    pmap = param_map(entry, plan)
    req = request_for(entry, plan, pmap; flags)
    reg = rules_for_module!(mod, meta)
    newmod, out = differentiate!(mod, req; rules=reg === nothing ? C_NULL : reg.ptr)
    return newmod, out, pmap
end

"""
    compile(mode, FA, RA, argannots, RT; flags) -> Compiled

Compiles (or finds in the cache) the derivative of a call: `FA` is the annotation type of
the function (`Const{typeof(f)}`, or `Duplicated{...}` for a closure with differentiable
data), `argannots` a tuple of the annotation types of the arguments, `RA` the return
annotation and `RT` the primal return type. See [`Compiled`](@ref).
"""
function compile(mode::Mode, @nospecialize(FA::Type), @nospecialize(RA), argannots::Tuple, @nospecialize(RT::Type); flags::UInt32=UInt32(0))
    world = Base.get_world_counter()
    key = (typeof(mode), FA, RA, argannots, RT, flags, world)
    return cached(key) do
        FT = primal_type(FA)
        argtypes = map(primal_type, argannots)
        plan = make_plan(mode, FA, RA, argannots, RT)
        job = primal_job(FT, argtypes; world)
        GPUCompiler.JuliaContext() do ctx
            mod, meta = GPUCompiler.compile(:llvm, job)
            mod, out, pmap = differentiate_entry(mod, meta, meta.entry, plan; flags)
            kinds = plan.mode === :split ? (:augmented, :reverse) : (plan.mode,)
            names = String[]
            for (gen, kind) in zip(out.functions, kinds)
                name = fresh_entry_name(length(names) + 1)
                build_wrapper!(mod, gen, kind, plan, pmap, name)
                push!(names, name)
            end
            entries = jit!(mod, meta, names)
            Compiled(entries, names, plan, out.functions, out.tape_type, out.report)
        end
    end::Compiled
end

"""
    HvpCompiled

A compiled Hessian-vector product: the forward derivative (libradx, forward mode) of the
reverse derivative (libradx, combined mode) of a scalar function, with the direct entry
layout, and both generated signatures.
"""
struct HvpCompiled
    entry::Ptr{Cvoid}
    gradient::GeneratedFunction
    hvp::GeneratedFunction
    plan::Plan
    pmap::ParamMap
end

"""
    compile_hvp(FA, XA, RT) -> HvpCompiled

Forward over reverse, both by libradx on the same module: the combined reverse derivative
of `f(x)` (`XA` is `Active{T}` for a number, `Duplicated{T}` for an array), then the
forward derivative of that function with the primal `x` and its shadow duplicated, so the
tangent of the gradient is `H * v`.
"""
function compile_hvp(@nospecialize(FA::Type), @nospecialize(XA::Type), @nospecialize(RT::Type))
    world = Base.get_world_counter()
    key = (:hvp, FA, XA, RT, world)
    return cached(key) do
        plan = make_plan(Reverse, FA, Active, (XA,), RT)
        job = primal_job(primal_type(FA), (primal_type(XA),); world)
        GPUCompiler.JuliaContext() do ctx
            mod, meta = GPUCompiler.compile(:llvm, job)
            mod, out1, pmap = differentiate_entry(mod, meta, meta.entry, plan)
            pmap.sret && throw(ArgumentError("RadX.hvp: functions returning through memory are not supported"))
            g = out1.functions[1]
            acts = Int32[]
            for s in g.params
                is_x = s.arg != 0 && plan.args[pmap.arg_of_param[s.arg]].index == 2
                push!(acts, is_x && s.role in (:primal, :shadow) ? ACTIVITY_DUP : ACTIVITY_CONST)
            end
            ret = isempty(g.results) ? ACTIVITY_DEFAULT : ACTIVITY_DUP
            req = Request(; function_name=g.name, mode=MODE_FORWARD, activities=acts, return_activity=ret,
                          flags=FLAG_NO_POSTOPT)
            reg = rules_for_module!(mod, meta)
            mod, out2 = differentiate!(mod, req; rules=reg === nothing ? C_NULL : reg.ptr)
            name = fresh_entry_name(1)
            build_direct_wrapper!(mod, out2.functions[1], name)
            entry = jit!(mod, meta, [name])[1]
            HvpCompiled(entry, g, out2.functions[1], plan, pmap)
        end
    end::HvpCompiled
end
