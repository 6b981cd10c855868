# Calling compiled entry wrappers from Julia: every argument slot and result slot is a
# `Ref`; the wrapper receives two arrays of pointers to them (see wrapper.jl).

"""
    value_slot(x) -> Base.RefValue

The memory slot of an argument value: bits values inline (`Ref{T}`), anything else as a
reference to the object (`Ref{Any}`, which the wrapper loads as a tracked pointer).
"""
value_slot(x::T) where {T} = isbitstype(T) ? Ref{T}(x) : Ref{Any}(x)

"""
    result_slot(T) -> Base.RefValue

An empty slot for a result of type `T`.
"""
result_slot(@nospecialize(T::Type)) = isbitstype(T) ? Ref{T}() : Ref{Any}()

"""
    invoke_entry(fptr, argslots, resslots)

Calls an entry wrapper `void(ptr argv, ptr resv)` with pointers to the slots; the slots are
kept alive across the call.
"""
function invoke_entry(fptr::Ptr{Cvoid}, argslots::Vector{Any}, resslots::Vector{Any})
    GC.@preserve argslots resslots begin
        argv = Ptr{Cvoid}[pointer_from_objref(r) for r in argslots]
        resv = Ptr{Cvoid}[pointer_from_objref(r) for r in resslots]
        GC.@preserve argv resv begin
            ccall(fptr, Cvoid, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), argv, resv)
        end
    end
    return nothing
end

# The annotation of the k-th ArgPlan among (fa, args...).
annotation_of(plan::Plan, all::Tuple, k::Int) = all[plan.args[k].index]

"""
    argument_slots(plan, fnkind, all; seed=nothing, tape=nothing) -> Vector{Any}

The argument slots of the entry wrapper for the annotated values `all = (fa, args...)`,
in the order of [`param_layout`](@ref).
"""
function argument_slots(plan::Plan, fnkind::Symbol, all::Tuple; seed=nothing, tape=nothing)
    slots = Any[]
    for (role, k, lane) in param_layout(plan, fnkind)
        if role === :primal
            push!(slots, value_slot(annotation_of(plan, all, k).val))
        elseif role === :shadow
            push!(slots, value_slot(shadows(annotation_of(plan, all, k))[lane]))
        elseif role === :seed
            seed === nothing && throw(ArgumentError("RadX: the reverse pass of an Active result needs its adjoint (the seed)"))
            push!(slots, Ref{plan.RT}(convert(plan.RT, seed)))
        else
            push!(slots, Ref{Ptr{Cvoid}}(tape))
        end
    end
    return slots
end

"""
    result_slots(plan, fnkind) -> Vector{Any}

Empty result slots in the order of [`result_layout`](@ref).
"""
function result_slots(plan::Plan, fnkind::Symbol)
    return Any[role === :adjoint ? result_slot(plan.args[k].T) :
               role === :tape ? Ref{Ptr{Cvoid}}(C_NULL) : result_slot(plan.RT)
               for (role, k, _) in result_layout(plan, fnkind)]
end

function result_value(plan::Plan, fnkind::Symbol, res::Vector{Any}, key)
    i = findfirst(==(key), result_layout(plan, fnkind))
    return i === nothing ? nothing : res[i][]
end

# Adjoints of the arguments (not of the function), `nothing` for those without one.
function adjoint_tuple(plan::Plan, fnkind::Symbol, res::Vector{Any}, nargs::Int)
    out = Any[nothing for _ in 1:nargs]
    for (k, a) in enumerate(plan.args)
        if a.kind === :active && a.index > 1
            out[a.index-1] = result_value(plan, fnkind, res, (:adjoint, k, 0))
        end
    end
    return Tuple(out)
end

"""
    run_forward(c::Compiled, all) -> Tuple

Runs a forward-mode derivative; returns Enzyme's shape: `(tangent,)`, `(tangent, primal)`
with the primal, a tuple of tangents for batch width > 1, `()`/`(primal,)` for a constant
result.
"""
function run_forward(c::Compiled, all::Tuple)
    plan = c.plan
    res = result_slots(plan, :forward)
    invoke_entry(c.entries[1], argument_slots(plan, :forward, all), res)
    out = Any[]
    if plan.ret === :dup || plan.ret === :dup_noneed
        ts = Tuple(result_value(plan, :forward, res, (:return_shadow, 0, l)) for l in 1:plan.width)
        push!(out, plan.width == 1 ? ts[1] : ts)
    end
    plan.return_primal && push!(out, result_value(plan, :forward, res, (:return, 0, 0)))
    return Tuple(out)
end

"""
    run_combined(c::Compiled, all; seed) -> Tuple

Runs a combined reverse-mode derivative; returns `(adjoints,)` or `(adjoints, primal)`,
where `adjoints` has one entry per argument (`nothing` for non-`Active` ones). Adjoints of
`Duplicated` arguments accumulate into their shadows.
"""
function run_combined(c::Compiled, all::Tuple; seed=nothing)
    plan = c.plan
    res = result_slots(plan, :combined)
    invoke_entry(c.entries[1], argument_slots(plan, :combined, all; seed), res)
    adj = adjoint_tuple(plan, :combined, res, length(all) - 1)
    return plan.return_primal ? (adj, result_value(plan, :combined, res, (:return, 0, 0))) : (adj,)
end

"""
    AugmentedForwardThunk

The augmented forward pass of split reverse mode. Call it as `fwd(fa, args...)`; it returns
`(tape, primal, shadow)` (`primal` is `nothing` for [`ReverseSplitNoPrimal`](@ref), `shadow`
`nothing` unless the result is `Duplicated`). Pass the tape to the matching
[`AdjointThunk`](@ref) exactly once: the reverse pass frees it.
"""
struct AugmentedForwardThunk
    c::Compiled
end

"""
    AdjointThunk

The reverse pass of split reverse mode. Call it as `rev(fa, args..., dret, tape)` when the
result is `Active` (`dret` is its adjoint), `rev(fa, args..., tape)` otherwise; it returns
`(adjoints,)` like [`autodiff`](@ref) in [`Reverse`](@ref) mode.
"""
struct AdjointThunk
    c::Compiled
end

function (t::AugmentedForwardThunk)(fa::Annotation, args::Annotation...)
    plan = t.c.plan
    all = (fa, args...)
    res = result_slots(plan, :augmented)
    invoke_entry(t.c.entries[1], argument_slots(plan, :augmented, all), res)
    tape = result_value(plan, :augmented, res, (:tape, 0, 0))
    return (tape, result_value(plan, :augmented, res, (:return, 0, 0)), result_value(plan, :augmented, res, (:return_shadow, 0, 1)))
end

function (t::AdjointThunk)(fa::Annotation, rest...)
    plan = t.c.plan
    active = plan.ret === :active && returns_value(plan)
    nlead = active ? 2 : 1
    length(rest) >= nlead || throw(ArgumentError("RadX: the reverse pass takes the arguments, $(active ? "the adjoint of the result, " : "")and the tape"))
    args = rest[1:end-nlead]
    tape = rest[end]
    tape isa Ptr{Cvoid} || throw(ArgumentError("RadX: the last argument of the reverse pass must be the tape (a Ptr{Cvoid})"))
    tape == C_NULL && throw(ArgumentError("RadX: the tape is NULL"))
    seed = active ? rest[end-1] : nothing
    all = (fa, args...)
    res = result_slots(plan, :reverse)
    invoke_entry(t.c.entries[2], argument_slots(plan, :reverse, all; seed, tape), res)
    return (adjoint_tuple(plan, :reverse, res, length(args)),)
end
