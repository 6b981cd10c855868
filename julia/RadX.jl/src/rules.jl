# Custom derivative rules for Julia functions, handed to libradx's rule registry.
#
# A rule is registered for a function and argument types, with Julia implementations of
# its forward and/or reverse derivative. When a module RadX differentiates contains that
# method (GPUCompiler reports every method instance it compiled), the implementations are
# compiled into the same module, given adapters with exactly the LLVM signature libradx
# expects (radx.h, radx_rule), and registered with libradx for that request.
#
# Implementation signatures (Julia level), for a rule of `f(x1::T1, ..., xn::Tn)::R`:
#   forward(x1, [dx1 ...], ..., xn, [dxn ...]) -> (y, dy1, ..., dyW)     (dxi after DUP args)
#   augmented(x1, [dx1], ..., xn, [dxn]) -> (tape::Ptr{Cvoid}, y)
#   reverse(x1, [dx1], ..., xn, [dxn], [dy], tape::Ptr{Cvoid}) -> adjoints of ACTIVE xi
# (`dy` only when the result is active). The engine cannot call custom rules yet: libradx
# validates them and answers RADX_ERR_UNSUPPORTED when one would be needed.

"""
    JuliaRule

A registered custom rule: the function, its primal argument types, the activity of each
argument (`:default`, `:const`, `:active`, `:dup`) and of the result, the batch width of the
forward implementation, and the implementations (`nothing` when absent).
"""
struct JuliaRule
    f::Any
    argtypes::Type
    activities::Vector{Symbol}
    ret::Symbol
    width::Int
    forward::Any
    augmented::Any
    reverse::Any
end

const RULES = Dict{Any,JuliaRule}()
const RULES_LOCK = ReentrantLock()

const ACTIVITY_BY_SYMBOL = Dict(:default => ACTIVITY_DEFAULT, :const => ACTIVITY_CONST, :active => ACTIVITY_ACTIVE,
                                :dup => ACTIVITY_DUP, :dup_noneed => ACTIVITY_DUP_NONEED)

"""
    register_rule!(f, argtypes::Type{<:Tuple}; forward=nothing, augmented=nothing,
                   reverse=nothing, activities=nothing, return_activity=:default, width=1)

Registers a custom derivative of `f` for arguments of types `argtypes`. `forward` is a
function implementing the forward derivative, `augmented` and `reverse` (given together)
the two halves of the reverse derivative; see the signatures at the top of `rules.jl` and in
`docs/julia.md`. `activities` (one of `:default`, `:const`, `:active`, `:dup` per argument)
selects the activity pattern the implementations are written for; the default is by type
(floating-point values active in reverse mode and duplicated in forward mode, arrays
duplicated, the rest constant). Mark `f` `@noinline`, so that Julia's inliner keeps the
call the rule replaces. Registering again for the same function and types replaces the rule.
"""
function register_rule!(f, @nospecialize(argtypes::Type{<:Tuple}); forward=nothing, augmented=nothing, reverse=nothing,
                        activities=nothing, return_activity::Symbol=:default, width::Integer=1)
    (augmented === nothing) == (reverse === nothing) ||
        throw(ArgumentError("register_rule!: give both `augmented` and `reverse`, or neither"))
    forward === nothing && reverse === nothing &&
        throw(ArgumentError("register_rule!: give `forward`, or `augmented` and `reverse`"))
    n = length(argtypes.parameters)
    acts = activities === nothing ? fill(:default, n) : collect(Symbol, activities)
    length(acts) == n || throw(ArgumentError("register_rule!: $(length(acts)) activities for $n arguments"))
    for a in (acts..., return_activity)
        haskey(ACTIVITY_BY_SYMBOL, a) || throw(ArgumentError("register_rule!: unknown activity :$a"))
    end
    rule = JuliaRule(f, argtypes, acts, return_activity, Int(width), forward, augmented, reverse)
    lock(() -> (RULES[(typeof(f), argtypes)] = rule), RULES_LOCK)
    reset_caches!()
    return rule
end

"""
    clear_rules!()

Removes every registered custom rule.
"""
clear_rules!() = (lock(() -> empty!(RULES), RULES_LOCK); reset_caches!(); nothing)

"""
    @radx_rule f(::T1, ::T2) forward=fwd augmented=aug reverse=rev

Macro form of [`register_rule!`](@ref): `@radx_rule mysin(::Float64) forward=mysin_fwd`.
"""
macro radx_rule(call, kwargs...)
    (call isa Expr && call.head === :call) || throw(ArgumentError("@radx_rule: expected f(::T, ...)"))
    f = call.args[1]
    types = map(call.args[2:end]) do a
        (a isa Expr && a.head === :(::)) || throw(ArgumentError("@radx_rule: arguments are written ::T or x::T"))
        a.args[end]
    end
    kws = map(kwargs) do kw
        (kw isa Expr && kw.head === :(=)) || throw(ArgumentError("@radx_rule: options are written key=value"))
        Expr(:kw, kw.args[1], esc(kw.args[2]))
    end
    return :(register_rule!($(esc(f)), Tuple{$(map(esc, types)...)}; $(kws...)))
end

# ---- compiling rules into a module ------------------------------------------------------------

llvm_is_float(t) = t isa LLVM.FloatingPointType
llvm_is_ptr(t) = t isa LLVM.PointerType

pack_type(ts::Vector{LLVM.LLVMType}) = isempty(ts) ? LLVM.VoidType() : length(ts) == 1 ? ts[1] : LLVM.StructType(ts)

"""
    expected_rule_type(which, primal, acts, ret_act, width) -> LLVM.FunctionType

The LLVM type libradx requires of the `which` (`:forward`, `:augmented`, `:reverse`)
implementation of a rule for `primal` with the LLVM-level activities `acts`.
"""
function expected_rule_type(which::Symbol, primal::LLVM.Function, acts::Vector{Int32}, ret_act::Int32, width::Int)
    fty = LLVM.function_type(primal)
    ps = LLVM.parameters(fty)
    ret = LLVM.return_type(fty)
    void = ret isa LLVM.VoidType
    fwd = which === :forward
    act(i, t) = acts[i] != ACTIVITY_DEFAULT ? acts[i] :
        fwd ? (llvm_is_float(t) || llvm_is_ptr(t) ? ACTIVITY_DUP : ACTIVITY_CONST) :
              (llvm_is_ptr(t) ? ACTIVITY_DUP : llvm_is_float(t) ? ACTIVITY_ACTIVE : ACTIVITY_CONST)
    params = LLVM.LLVMType[]
    adjoints = LLVM.LLVMType[]
    for (i, t) in enumerate(ps)
        push!(params, t)
        a = act(i, t)
        a in (ACTIVITY_DUP, ACTIVITY_DUP_NONEED) && append!(params, fill(t, fwd ? width : 1))
        a == ACTIVITY_ACTIVE && push!(adjoints, t)
    end
    if fwd
        elems = LLVM.LLVMType[]
        void || ret_act == ACTIVITY_DUP_NONEED || push!(elems, ret)
        (!void && ret_act != ACTIVITY_CONST && (llvm_is_float(ret) || llvm_is_ptr(ret))) && append!(elems, fill(ret, width))
        return LLVM.FunctionType(pack_type(elems), params)
    elseif which === :augmented
        elems = LLVM.LLVMType[LLVM.PointerType()]
        void || push!(elems, ret)
        (!void && ret_act in (ACTIVITY_DUP, ACTIVITY_DUP_NONEED) && llvm_is_ptr(ret)) && push!(elems, ret)
        return LLVM.FunctionType(pack_type(elems), params)
    end
    seed = !void && llvm_is_float(ret) && ret_act in (ACTIVITY_DEFAULT, ACTIVITY_ACTIVE)
    seed && push!(params, ret)
    push!(params, LLVM.PointerType())
    return LLVM.FunctionType(pack_type(adjoints), params)
end

# Converts `v` to type `to`: identical types, integers <-> pointers (Julia <= 1.11 lowers
# `Ptr` to `i64`), and aggregates of the same length element by element.
function convert_value!(b::LLVM.IRBuilder, v::LLVM.Value, to::LLVM.LLVMType)
    from = LLVM.value_type(v)
    from == to && return v
    from isa LLVM.IntegerType && to isa LLVM.PointerType && return LLVM.inttoptr!(b, v, to)
    from isa LLVM.PointerType && to isa LLVM.IntegerType && return LLVM.ptrtoint!(b, v, to)
    from isa LLVM.PointerType && to isa LLVM.PointerType && return LLVM.addrspacecast!(b, v, to)
    if (from isa LLVM.StructType || from isa LLVM.ArrayType) && (to isa LLVM.StructType || to isa LLVM.ArrayType)
        n = to isa LLVM.StructType ? length(LLVM.elements(to)) : length(to)
        toelems = to isa LLVM.StructType ? LLVM.elements(to) : fill(LLVM.eltype(to), n)
        out = LLVM.UndefValue(to)
        for i in 1:n
            e = convert_value!(b, LLVM.extract_value!(b, v, i - 1), toelems[i])
            out = LLVM.insert_value!(b, out, e, i - 1)
        end
        return out
    end
    error("RadX: a custom rule's implementation passes a `$(from)` where `$(to)` is expected")
end

"""
    adapter!(mod, impl, want, name) -> LLVM.Function

A function `name` of type `want` that calls `impl` (the compiled Julia implementation),
converting parameters and the result.
"""
function adapter!(mod::LLVM.Module, impl::LLVM.Function, want::LLVM.FunctionType, name::String)
    ity = LLVM.function_type(impl)
    ips = LLVM.parameters(ity)
    length(ips) == length(LLVM.parameters(want)) ||
        error("RadX: custom rule implementation `$(LLVM.name(impl))` takes $(length(ips)) LLVM parameters, the rule needs $(length(LLVM.parameters(want))) ($(want))")
    f = LLVM.Function(mod, name, want)
    LLVM.@dispose b = LLVM.IRBuilder() begin
        LLVM.position!(b, LLVM.BasicBlock(f, "entry"))
        args = LLVM.Value[convert_value!(b, p, ips[i]) for (i, p) in enumerate(LLVM.parameters(f))]
        r = LLVM.call!(b, ity, impl, args)
        LLVM.return_type(want) isa LLVM.VoidType ? LLVM.ret!(b) : LLVM.ret!(b, convert_value!(b, r, LLVM.return_type(want)))
    end
    return f
end

# The Julia argument types of a rule implementation.
function impl_argtypes(rule::JuliaRule, which::Symbol, acts::Vector{Symbol}, RT::Type)
    out = Any[]
    for (T, a) in zip(rule.argtypes.parameters, acts)
        push!(out, T)
        dup = a === :dup || (a === :default && (T <: AbstractArray || (which === :forward && T <: AbstractFloat)))
        dup && append!(out, fill(T, which === :forward ? rule.width : 1))
    end
    if which === :reverse
        (RT <: AbstractFloat && rule.ret in (:default, :active)) && push!(out, RT)
        push!(out, Ptr{Cvoid})
    end
    return Tuple(out)
end

"""
    rules_for_module!(mod, meta) -> Union{RuleRegistry,Nothing}

For every registered rule whose method GPUCompiler compiled into `mod`, compiles the
implementations into `mod` with adapters and registers them; `nothing` when none applies.
"""
function rules_for_module!(mod::LLVM.Module, meta)
    rules = lock(() -> collect(values(RULES)), RULES_LOCK)
    (isempty(rules) || !hasproperty(meta, :compiled)) && return nothing
    reg = nothing
    fns = LLVM.functions(mod)
    for rule in rules
        mi = GPUCompiler.methodinstance(typeof(rule.f), rule.argtypes)
        haskey(meta.compiled, mi) || continue
        entry = meta.compiled[mi]
        hasproperty(entry, :specfunc) || continue
        primal_name = String(entry.specfunc)
        haskey(fns, primal_name) || continue
        primal = fns[primal_name]
        nonghost = [a for (T, a) in zip(rule.argtypes.parameters, rule.activities) if !isghost(T)]
        isghost(typeof(rule.f)) || pushfirst!(nonghost, :const)
        acts = Int32[ACTIVITY_BY_SYMBOL[a] for a in nonghost]
        ret_act = ACTIVITY_BY_SYMBOL[rule.ret]
        RT = primal_return_type(rule.f, Tuple(rule.argtypes.parameters))
        names = Dict{Symbol,String}()
        for (which, impl) in ((:forward, rule.forward), (:augmented, rule.augmented), (:reverse, rule.reverse))
            impl === nothing && continue
            job = primal_job(typeof(impl), impl_argtypes(rule, which, rule.activities, RT))
            implmod, implmeta = GPUCompiler.compile(:llvm, job)
            implname = "radx_rule_impl_$(Threads.atomic_add!(ENTRY_COUNTER, 1))"
            LLVM.name!(implmeta.entry, implname)
            for f in LLVM.functions(implmod)
                LLVM.isdeclaration(f) || LLVM.name(f) == implname || LLVM.linkage!(f, LLVM.API.LLVMInternalLinkage)
            end
            LLVM.link!(mod, implmod)
            want = expected_rule_type(which, primal, acts, ret_act, rule.width)
            names[which] = "radx_rule_$(which)_$(Threads.atomic_add!(ENTRY_COUNTER, 1))"
            adapter!(mod, LLVM.functions(mod)[implname], want, names[which])
        end
        reg === nothing && (reg = RuleRegistry())
        add_rule!(reg, primal_name; activities=acts, return_activity=ret_act, width=rule.width,
                  forward=get(names, :forward, nothing), augmented=get(names, :augmented, nothing),
                  reverse=get(names, :reverse, nothing))
    end
    return reg
end
