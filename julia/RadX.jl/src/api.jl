# The user API: autodiff, autodiff_thunk, autodiff_deferred and the conveniences.

annotate_function(f) = f isa Annotation ? f : Const(f)

function check_function_annotation(fa::Annotation)
    fa isa Active && throw(ArgumentError("the differentiated function cannot be Active; use Const(f), or Duplicated(f, df) for a closure whose captured data is differentiated"))
    fa isa BatchDuplicated && throw(ArgumentError("a BatchDuplicated function is not supported"))
    return fa
end

function check_return_annotation(mode::Mode, @nospecialize(RA), @nospecialize(RT))
    RA isa Type && RA <: Annotation || throw(ArgumentError("the return annotation must be an annotation type (Const, Active, Duplicated, ...); got $RA"))
    if mode isa ForwardMode && RA <: Active
        throw(ArgumentError("Active is a reverse-mode return annotation; use Duplicated, DuplicatedNoNeed or Const in forward mode"))
    end
    if mode isa ReverseMode && (RA <: Duplicated || RA <: DuplicatedNoNeed || RA <: BatchDuplicated) && !(RT <: Nothing)
        throw(ArgumentError("a Duplicated result in combined reverse mode has nowhere to take its adjoint from; use autodiff_thunk(ReverseSplitWithPrimal, ...)"))
    end
    return RA
end

flags_for(runtime_activity::Bool) = runtime_activity ? FLAG_RUNTIME_ACTIVITY : UInt32(0)

"""
    autodiff(mode, f, [ReturnActivity], args...; runtime_activity=false)

Differentiates `f(args...)`. `f` is a function or an annotated function (`Const(f)`, or
`Duplicated(f, df)` for a closure whose captured data is differentiated); every argument is
annotated ([`Const`](@ref), [`Active`](@ref), [`Duplicated`](@ref),
[`DuplicatedNoNeed`](@ref), [`BatchDuplicated`](@ref)). The return annotation is guessed
when it is left out (see [`guess_return_activity`](@ref)).

Forward modes return `(tangent,)` ([`Forward`](@ref)) or `(tangent, primal)`
([`ForwardWithPrimal`](@ref)); with `BatchDuplicated` the tangent is a tuple. Reverse modes
return `(adjoints,)` ([`Reverse`](@ref)) or `(adjoints, primal)` ([`ReverseWithPrimal`](@ref)),
with one entry per argument: the adjoint of an `Active` argument, `nothing` otherwise. An
`Active` result is seeded with `one(T)`; adjoints of `Duplicated` arguments accumulate into
their shadows, which are also how mutated arguments report their derivatives.

`runtime_activity=true` asks for Enzyme's runtime activity, which libradx does not support
yet (a [`RadXError`](@ref) with `RADX_ERR_UNSUPPORTED`).

```julia
autodiff(Reverse, x -> x^2 * sin(x), Active, Active(1.0))   # ((2sin(1) + cos(1),),)
autodiff(Forward, sum, Duplicated([1.0, 2.0], [1.0, 0.0]))  # (1.0,)
```
"""
function autodiff(mode::Mode, f, ::Type{RA}, args::Annotation...; runtime_activity::Bool=false) where {RA<:Annotation}
    fa = check_function_annotation(annotate_function(f))
    mode isa ReverseModeSplit && throw(ArgumentError("split mode returns two passes: use autodiff_thunk(ReverseSplitWithPrimal, ...)"))
    check_annotations(mode, args)
    argannots = map(typeof, args)
    RT = primal_return_type(fa.val, map(primal_type, argannots))
    check_return_annotation(mode, RA, RT)
    c = compile(mode, typeof(fa), RA, argannots, RT; flags=flags_for(runtime_activity))
    all = (fa, args...)
    mode isa ForwardMode && return run_forward(c, all)
    seed = nothing
    if c.plan.ret === :active && returns_value(c.plan)
        RT <: Real || throw(ArgumentError("autodiff seeds an Active result with one(T), which needs a number; the result is a $(RT): use autodiff_thunk and pass the adjoint yourself"))
        seed = one(RT)
    end
    return run_combined(c, all; seed)
end

function autodiff(mode::Mode, f, args::Annotation...; runtime_activity::Bool=false)
    fa = annotate_function(f)
    RT = primal_return_type(fa.val, map(a -> primal_type(typeof(a)), args))
    return autodiff(mode, fa, guess_return_activity(mode, RT), args...; runtime_activity)
end

"""
    autodiff_thunk(mode::ReverseModeSplit, FA, RA, ArgAnnotations...) -> (forward, reverse)

Split reverse mode: compiles the augmented forward pass and the reverse pass of a call with
annotation types `FA` (of the function, e.g. `Const{typeof(f)}`), `RA` (of the result) and
those of the arguments, and returns them as an [`AugmentedForwardThunk`](@ref) and an
[`AdjointThunk`](@ref):

```julia
fwd, rev = autodiff_thunk(ReverseSplitWithPrimal, Const{typeof(f)}, Active, Active{Float64})
tape, y, _ = fwd(Const(f), Active(x))
((dx,),) = rev(Const(f), Active(x), 1.0, tape)
```

The tape libradx's augmented pass returns is an opaque pointer; the reverse pass frees it,
so pass each tape exactly once.
"""
function autodiff_thunk(mode::ReverseModeSplit, ::Type{FA}, ::Type{RA}, argannots::Type{<:Annotation}...;
                        runtime_activity::Bool=false) where {FA<:Annotation,RA<:Annotation}
    FA <: Active && throw(ArgumentError("the differentiated function cannot be Active"))
    RT = return_type_of(primal_type(FA), map(primal_type, argannots))
    (RA <: BatchDuplicated) && throw(ArgumentError("batched split mode is not supported"))
    c = compile(mode, FA, RA, argannots, RT; flags=flags_for(runtime_activity))
    return AugmentedForwardThunk(c), AdjointThunk(c)
end

"""
    autodiff_deferred(mode, f, ReturnActivity, args...)

[`autodiff`](@ref) for use inside code that is itself compiled by GPUCompiler: in GPU
kernels (through the CUDA.jl and AMDGPU.jl extensions) the derivative is compiled when the
kernel is, through GPUCompiler's deferred code generation, and linked into the kernel. On
the CPU it is `autodiff` (compiled on first use and cached).
"""
autodiff_deferred(mode::Mode, f, ::Type{RA}, args::Annotation...) where {RA<:Annotation} = autodiff(mode, f, RA, args...)
autodiff_deferred(mode::Mode, f, args::Annotation...) = autodiff(mode, f, args...)

# ---- conveniences ----------------------------------------------------------------------------

zero_shadow(x::AbstractArray{<:Number}) = zero(x)
zero_shadow(x) = throw(ArgumentError("RadX: cannot make a zero shadow of a $(typeof(x)); pass Duplicated(x, dx) to autodiff yourself"))

function reverse_annotation(x)
    x isa Annotation && return x
    x isa Number && return Active(x)
    return Duplicated(x, zero_shadow(x))
end

"""
    gradient(Reverse, f, xs...)          -> Tuple
    gradient(ReverseWithPrimal, f, xs...) -> (derivs = Tuple, val = f(xs...))
    gradient(Forward, f, x::AbstractArray; chunk=1) -> Tuple

The gradient of a scalar function with respect to each argument: numbers are
differentiated as `Active`, arrays as `Duplicated` with a zero shadow (which is the
gradient returned), `Const(x)` arguments give `nothing`. Forward mode computes the gradient
of an array argument one basis direction at a time, `chunk` directions per call
(`BatchDuplicated`).
"""
function gradient(mode::ReverseMode, f, xs...)
    anns = map(reverse_annotation, xs)
    res = autodiff(ReverseMode{return_primal(mode)}(), f, Active, anns...)
    derivs = Tuple(a isa Active ? res[1][i] : a isa Const ? nothing : shadows(a)[1] for (i, a) in enumerate(anns))
    return return_primal(mode) ? (derivs=derivs, val=res[2]) : derivs
end

function gradient(::ForwardMode, f, x::AbstractArray{T}; chunk::Integer=1) where {T<:AbstractFloat}
    g = similar(x)
    idx = collect(eachindex(x))
    for start in 1:chunk:length(idx)
        block = idx[start:min(start + chunk - 1, end)]
        dirs = map(block) do i
            d = zero(x)
            d[i] = one(T)
            d
        end
        if length(dirs) == 1
            g[block[1]] = autodiff(Forward, f, Duplicated(x, dirs[1]))[1]
        else
            ts = autodiff(Forward, f, BatchDuplicated(x, Tuple(dirs)))[1]
            for (i, t) in zip(block, ts)
                g[i] = t
            end
        end
    end
    return (g,)
end
gradient(m::ForwardMode, f, x::Number) = (derivative(m, f, x),)

"""
    derivative(Forward, f, x::Number)
    derivative(Reverse, f, x::Number)

The derivative of `f` at `x`: one forward-mode tangent, or one reverse-mode adjoint.
"""
derivative(::ForwardMode, f, x::Number) = autodiff(Forward, f, Duplicated(x, one(x)))[1]
derivative(::ReverseMode, f, x::Number) = autodiff(Reverse, f, Active, Active(x))[1][1]

"""
    jacobian(Forward, f, x::AbstractArray) -> (J,)
    jacobian(Reverse, f, x::AbstractArray) -> (J,)

The Jacobian `J[i, j] = ∂f(x)[i] / ∂x[j]` of an array function. Forward mode computes one
column per call (`f` returns an array, whose tangent is the column); reverse mode one row
per call, by the gradient of `x -> f(x)[i]`.
"""
function jacobian(::ForwardMode, f, x::AbstractArray{T}) where {T<:AbstractFloat}
    y = f(x)
    J = zeros(T, length(y), length(x))
    for (j, i) in enumerate(eachindex(x))
        d = zero(x)
        d[i] = one(T)
        col = autodiff(Forward, f, Duplicated, Duplicated(x, d))[1]
        J[:, j] .= vec(col)
    end
    return (J,)
end

function jacobian(::ReverseMode, f, x::AbstractArray{T}) where {T<:AbstractFloat}
    y = f(x)
    J = zeros(T, length(y), length(x))
    for (r, i) in enumerate(eachindex(y))
        row = Component(f, i)
        dx = zero(x)
        autodiff(Reverse, Const(row), Active, Duplicated(x, dx))
        J[r, :] .= vec(dx)
    end
    return (J,)
end

"""
    Component(f, i)

The scalar function `x -> f(x)[i]` (one type for every `i`, so it compiles once).
"""
struct Component{F}
    f::F
    i::Int
end
(c::Component)(x) = c.f(x)[c.i]

"""
    hvp(f, x, v)

The Hessian-vector product `H(x) * v` of a scalar function `f`, exactly (forward over
reverse): libradx generates the reverse derivative of `f`, then the forward derivative of
that derivative. `x` is a number (the result is `f''(x) * v`) or an array of floats.
"""
function hvp(f, x::Number, v::Number)
    RT = primal_return_type(f, (typeof(x),))
    c = compile_hvp(Const{typeof(f)}, Active{typeof(x)}, RT)
    res = run_hvp(c, f, x, v, nothing, nothing)
    return res[1][]
end

function hvp(f, x::AbstractArray{T}, v::AbstractArray{T}) where {T<:AbstractFloat}
    size(x) == size(v) || throw(DimensionMismatch("hvp: x has size $(size(x)), v has $(size(v))"))
    RT = primal_return_type(f, (typeof(x),))
    c = compile_hvp(Const{typeof(f)}, Duplicated{typeof(x)}, RT)
    grad, hv = zero(x), zero(x)
    run_hvp(c, f, x, v, grad, hv)
    return hv
end

# Slots of the direct entry of an HvpCompiled: per parameter of the forward derivative,
# what it is in terms of the reverse derivative's parameters.
function run_hvp(c::HvpCompiled, f, x, v, grad, hv)
    RT = c.plan.RT
    value_of(s) = s.role === :seed ? one(RT) :
                  s.role === :shadow ? grad :
                  c.plan.args[c.pmap.arg_of_param[s.arg]].index == 1 ? f : x
    tangent_of(s) = s.role === :shadow ? hv : v
    slots = Any[]
    for s2 in c.hvp.params
        s1 = c.gradient.params[s2.arg]
        push!(slots, s2.role === :shadow ? value_slot(tangent_of(s1)) :
                     s1.role === :seed ? Ref{RT}(one(RT)) : value_slot(value_of(s1)))
    end
    res = Any[result_slot(x isa Number ? typeof(x) : RT) for _ in c.hvp.results]
    invoke_entry(c.entry, slots, res)
    return res
end
