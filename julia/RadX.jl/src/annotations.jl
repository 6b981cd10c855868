# Modes and activity annotations, with the semantics of Enzyme.jl's.

"""
    Mode

Abstract type of the differentiation modes: [`Forward`](@ref), [`ForwardWithPrimal`](@ref),
[`Reverse`](@ref), [`ReverseWithPrimal`](@ref), [`ReverseSplitWithPrimal`](@ref) and
[`ReverseSplitNoPrimal`](@ref).
"""
abstract type Mode end

"""
    ForwardMode{ReturnPrimal}

Forward (tangent) mode; `ReturnPrimal` says whether `autodiff` also returns the primal
result. Use the constants [`Forward`](@ref) and [`ForwardWithPrimal`](@ref).
"""
struct ForwardMode{ReturnPrimal} <: Mode end

"""
    ReverseMode{ReturnPrimal}

Combined reverse (adjoint) mode: one call runs the function and its reverse sweep. Use the
constants [`Reverse`](@ref) and [`ReverseWithPrimal`](@ref).
"""
struct ReverseMode{ReturnPrimal} <: Mode end

"""
    ReverseModeSplit{ReturnPrimal}

Split reverse mode: an augmented forward pass returns a tape, a separate reverse pass takes
it. Used through [`autodiff_thunk`](@ref).
"""
struct ReverseModeSplit{ReturnPrimal} <: Mode end

"""
    Forward

Forward mode: `autodiff(Forward, f, Duplicated(x, dx))` returns `(df,)`, the directional
derivative of `f` at `x` along `dx`.
"""
const Forward = ForwardMode{false}()

"""
    ForwardWithPrimal

Forward mode that also returns the primal result: `(df, f(x))`.
"""
const ForwardWithPrimal = ForwardMode{true}()

"""
    Reverse

Reverse mode: `autodiff(Reverse, f, Active, Active(x), Duplicated(A, dA))` returns
`((dx, nothing),)` and accumulates the adjoint of `A` into `dA`.
"""
const Reverse = ReverseMode{false}()

"""
    ReverseWithPrimal

Reverse mode that also returns the primal result: `((dx, ...), f(x...))`.
"""
const ReverseWithPrimal = ReverseMode{true}()

"""
    ReverseSplitWithPrimal

Split reverse mode whose augmented forward pass returns the primal result; see
[`autodiff_thunk`](@ref).
"""
const ReverseSplitWithPrimal = ReverseModeSplit{true}()

"""
    ReverseSplitNoPrimal

Split reverse mode whose augmented forward pass does not return the primal result.
"""
const ReverseSplitNoPrimal = ReverseModeSplit{false}()

return_primal(::ForwardMode{P}) where {P} = P
return_primal(::ReverseMode{P}) where {P} = P
return_primal(::ReverseModeSplit{P}) where {P} = P

"""
    Annotation{T}

Abstract type of the activity annotations of arguments (and, as a type, of return values).
"""
abstract type Annotation{T} end

"""
    Const(x)

`x` is constant: no derivative is propagated through it.
"""
struct Const{T} <: Annotation{T}
    val::T
end

"""
    Active(x)

`x` is an active immutable value (a number, or an immutable struct or tuple of numbers):
reverse mode returns its adjoint. Not allowed in forward mode.
"""
struct Active{T} <: Annotation{T}
    val::T
    function Active(x::T) where {T}
        isbitstype(T) || throw(ArgumentError("Active needs an immutable bits value (a number, or a struct or tuple of them); got a $(T). Use Duplicated for mutable data."))
        return new{T}(x)
    end
end

"""
    Duplicated(x, dx)

`x` with a shadow `dx` of the same type. Forward mode: `dx` is the tangent of `x`. Reverse
mode: the adjoint of `x` is accumulated into `dx` (which should start at zero).
"""
struct Duplicated{T} <: Annotation{T}
    val::T
    dval::T
    function Duplicated(x::T, dx::T) where {T}
        if !isbitstype(T) && x === dx
            throw(ArgumentError("Duplicated: the shadow is the same object as the primal"))
        end
        return new{T}(x, dx)
    end
end

"""
    DuplicatedNoNeed(x, dx)

As [`Duplicated`](@ref), but the primal result computed from `x` is not needed (forward
mode returns no primal for a `DuplicatedNoNeed` return).
"""
struct DuplicatedNoNeed{T} <: Annotation{T}
    val::T
    dval::T
end

"""
    BatchDuplicated(x, (dx1, dx2, ...))

`x` with `N` shadows: forward mode propagates `N` tangent directions in one call (batch
width `N`). Every batched argument of one call must have the same `N`.
"""
struct BatchDuplicated{T,N} <: Annotation{T}
    val::T
    dval::NTuple{N,T}
end

# The number of shadows an annotation carries.
shadow_count(::Type{<:Duplicated}) = 1
shadow_count(::Type{<:DuplicatedNoNeed}) = 1
shadow_count(::Type{<:BatchDuplicated{T,N}}) where {T,N} = N
shadow_count(::Type{<:Annotation}) = 0

shadows(a::Duplicated) = (a.dval,)
shadows(a::DuplicatedNoNeed) = (a.dval,)
shadows(a::BatchDuplicated) = a.dval
shadows(::Annotation) = ()

primal_type(::Type{<:Annotation{T}}) where {T} = T

# libradx activities (radx.h, radx_activity).
const ACTIVITY_DEFAULT = Int32(0)
const ACTIVITY_CONST = Int32(1)
const ACTIVITY_DUP = Int32(2)
const ACTIVITY_DUP_NONEED = Int32(3)
const ACTIVITY_ACTIVE = Int32(4)

activity_code(::Type{<:Const}) = ACTIVITY_CONST
activity_code(::Type{<:Active}) = ACTIVITY_ACTIVE
activity_code(::Type{<:Duplicated}) = ACTIVITY_DUP
activity_code(::Type{<:DuplicatedNoNeed}) = ACTIVITY_DUP_NONEED
activity_code(::Type{<:BatchDuplicated}) = ACTIVITY_DUP

# Julia-level differentiability of a type, for guessing return activities.
is_float_like(::Type{T}) where {T} = T <: AbstractFloat ||
    (isbitstype(T) && fieldcount(T) > 0 && all(i -> is_float_like(fieldtype(T, i)), 1:fieldcount(T)))

"""
    guess_return_activity(mode, RT) -> Type{<:Annotation}

The return annotation used when `autodiff` is called without one: in reverse mode `Active`
for floating-point results (and immutable aggregates of them), `Const` otherwise; in
forward mode `Duplicated` (or `DuplicatedNoNeed` without the primal) for floating-point
and array results, `Const` otherwise.
"""
function guess_return_activity(mode::Mode, @nospecialize(RT::Type))
    if RT === Nothing || RT === Union{}
        return Const
    end
    if mode isa ForwardMode
        if is_float_like(RT) || (RT <: AbstractArray && is_float_like(eltype(RT)))
            return return_primal(mode) ? Duplicated : DuplicatedNoNeed
        end
        return Const
    end
    return is_float_like(RT) ? Active : Const
end

# Argument checks shared by autodiff and autodiff_thunk.
function check_annotations(mode::Mode, args)
    width = 0
    for (i, a) in enumerate(args)
        a isa Annotation || throw(ArgumentError("argument $i of autodiff is a $(typeof(a)); annotate it (Const, Active, Duplicated, DuplicatedNoNeed or BatchDuplicated)"))
        if a isa Active && mode isa ForwardMode
            throw(ArgumentError("argument $i is Active, which is a reverse-mode annotation; use Duplicated(x, dx) in forward mode"))
        end
        if a isa BatchDuplicated
            mode isa ForwardMode || throw(ArgumentError("BatchDuplicated (argument $i) is available in forward mode only"))
            n = length(a.dval)
            width == 0 || width == n || throw(ArgumentError("BatchDuplicated arguments of one call must have the same number of shadows ($width and $n)"))
            width = n
        end
    end
    return max(width, 1)
end
