# The entry wrapper: a function `void @name(ptr %argv, ptr %resv)` added next to the
# derivative libradx generated. `argv[i]` points to the memory of the i-th argument slot,
# `resv[j]` to where the j-th result is stored. The wrapper loads every parameter of the
# derivative from its slot (or passes the slot's address, for immutables Julia passes by
# reference), calls the derivative and stores its results. It also adapts the two calling
# conventions the Julia-level view hides: an `Active` immutable Julia passes by reference
# becomes a duplicated pointer with a zeroed shadow the wrapper allocates (its adjoint is
# copied out afterwards), and a result returned through `sret` gets buffers the wrapper
# allocates and copies out. One convention serves the CPU path (called with `ccall`) and
# device code (called through `deferred_codegen`).

"""
    ArgPlan(index, kind, width, T)

One Julia-level argument that reaches LLVM (ghost arguments never do): its position in
`(f, args...)`, its activity (`:const`, `:active`, `:dup`, `:dup_noneed`), its number of
shadows and its type.
"""
struct ArgPlan
    index::Int
    kind::Symbol
    width::Int
    T::Type
end

"""
    Plan

What a compiled derivative expects and returns at the Julia level: the mode (`:forward`,
`:combined`, `:split`), the arguments that reach LLVM, the batch width, whether the
primal is returned, the primal return type and its activity (`:const`, `:active`, `:dup`,
`:dup_noneed`). The slot layout of the entry wrappers follows from it alone (type level),
so device code can build its slots without running the compiler.
"""
struct Plan
    mode::Symbol
    args::Vector{ArgPlan}
    width::Int
    return_primal::Bool
    RT::Type
    ret::Symbol
end

has_shadow(a::ArgPlan) = a.kind === :dup || a.kind === :dup_noneed
returns_value(p::Plan) = !(p.RT === Nothing || p.RT === Union{})

# ---- the uniform slot layout ------------------------------------------------------------

"""
    param_layout(plan, fnkind) -> Vector{Tuple{Symbol,Int,Int}}

The argument slots of the entry wrapper of a function of kind `fnkind` (`:forward`,
`:combined`, `:augmented`, `:reverse`): `(:primal, k, 0)` and `(:shadow, k, lane)` for the
`k`-th [`ArgPlan`](@ref), then `(:seed, 0, 0)` and `(:tape, 0, 0)` where the function takes them.
"""
function param_layout(plan::Plan, fnkind::Symbol)
    out = Tuple{Symbol,Int,Int}[]
    for (k, a) in enumerate(plan.args)
        push!(out, (:primal, k, 0))
        if has_shadow(a)
            for l in 1:a.width
                push!(out, (:shadow, k, l))
            end
        end
    end
    if fnkind in (:combined, :reverse) && plan.ret === :active
        push!(out, (:seed, 0, 0))
    end
    fnkind === :reverse && push!(out, (:tape, 0, 0))
    return out
end

"""
    result_layout(plan, fnkind) -> Vector{Tuple{Symbol,Int,Int}}

The result slots of the entry wrapper: `(:return, 0, 0)`, `(:return_shadow, 0, lane)`,
`(:adjoint, k, 0)` and `(:tape, 0, 0)`, in the order the Julia side reads them.
"""
function result_layout(plan::Plan, fnkind::Symbol)
    out = Tuple{Symbol,Int,Int}[]
    prim = plan.return_primal && returns_value(plan)
    if fnkind === :augmented
        push!(out, (:tape, 0, 0))
        prim && push!(out, (:return, 0, 0))
        plan.ret === :dup && push!(out, (:return_shadow, 0, 1))
    elseif fnkind === :forward
        prim && push!(out, (:return, 0, 0))
        if plan.ret === :dup || plan.ret === :dup_noneed
            for l in 1:plan.width
                push!(out, (:return_shadow, 0, l))
            end
        end
    else
        fnkind === :combined && prim && push!(out, (:return, 0, 0))
        for (k, a) in enumerate(plan.args)
            a.kind === :active && push!(out, (:adjoint, k, 0))
        end
    end
    return out
end

# ---- building the wrapper ------------------------------------------------------------------

"""
    ParamMap(sret, arg_of_param)

How the LLVM parameters of the primal map to the plan: `sret` says whether parameter 1 is
an `sret` buffer; `arg_of_param[p]` is the [`ArgPlan`](@ref) index of LLVM parameter `p`
(0 for the sret buffer).
"""
struct ParamMap
    sret::Bool
    arg_of_param::Vector{Int}
end

opaque_ptr() = LLVM.PointerType()
is_tracked(t::LLVM.LLVMType) = t isa LLVM.PointerType && LLVM.addrspace(t) == 10
# Immutable data Julia passes by reference (Derived, AS 11), or a pointer in another
# non-zero address space: the wrapper passes the slot's address.
is_byref(t::LLVM.LLVMType) = t isa LLVM.PointerType && !(LLVM.addrspace(t) in (0, 10))

function slot_pointer(b::LLVM.IRBuilder, vec::LLVM.Value, i::Int)
    p = opaque_ptr()
    addr = LLVM.inbounds_gep!(b, p, vec, LLVM.Value[LLVM.ConstantInt(Int64(i - 1))])
    return LLVM.load!(b, p, addr)
end

cast_to(b::LLVM.IRBuilder, v::LLVM.Value, t::LLVM.LLVMType) =
    LLVM.value_type(v) == t ? v : LLVM.addrspacecast!(b, v, t)

# The value of a parameter of LLVM type `t` whose memory is at `ptr`.
function from_memory(b::LLVM.IRBuilder, ptr::LLVM.Value, t::LLVM.LLVMType)
    return is_byref(t) ? cast_to(b, ptr, t) : LLVM.load!(b, t, ptr)
end

function zeroed_alloca!(b::LLVM.IRBuilder, nbytes::Int)
    a = LLVM.array_alloca!(b, LLVM.Int8Type(), LLVM.ConstantInt(Int64(max(nbytes, 1))))
    LLVM.alignment!(a, 16)
    LLVM.memset!(b, a, LLVM.ConstantInt(Int8(0)), LLVM.ConstantInt(Int64(max(nbytes, 1))), 16)
    return a
end

function copy_bytes!(b::LLVM.IRBuilder, dst::LLVM.Value, src::LLVM.Value, nbytes::Int)
    nbytes > 0 || return nothing
    LLVM.memcpy!(b, cast_to(b, dst, opaque_ptr()), 1, cast_to(b, src, opaque_ptr()), 1, LLVM.ConstantInt(Int64(nbytes)))
    return nothing
end

function result_values(b::LLVM.IRBuilder, r::LLVM.Value, n::Int)
    n == 0 && return LLVM.Value[]
    n == 1 && return LLVM.Value[r]
    return LLVM.Value[LLVM.extract_value!(b, r, i - 1) for i in 1:n]
end

"""
    build_wrapper!(mod, gen, fnkind, plan, pmap, name) -> LLVM.Function

Adds the uniform entry wrapper `name` for the generated function `gen` (a
[`GeneratedFunction`](@ref) of kind `fnkind`) to `mod`; see the top of this file.
"""
function build_wrapper!(mod::LLVM.Module, gen::GeneratedFunction, fnkind::Symbol, plan::Plan, pmap::ParamMap, name::String)
    fn = LLVM.functions(mod)[gen.name]
    fty = LLVM.function_type(fn)
    ptys = LLVM.parameters(fty)
    ps = param_layout(plan, fnkind)
    rs = result_layout(plan, fnkind)
    pindex(key) = something(findfirst(==(key), ps), 0)
    rindex(key) = something(findfirst(==(key), rs), 0)
    wty = LLVM.FunctionType(LLVM.VoidType(), LLVM.LLVMType[opaque_ptr(), opaque_ptr()])
    w = LLVM.Function(mod, name, wty)
    LLVM.linkage!(w, LLVM.API.LLVMExternalLinkage)
    LLVM.@dispose b = LLVM.IRBuilder() begin
        LLVM.position!(b, LLVM.BasicBlock(w, "entry"))
        argv, resv = LLVM.parameters(w)
        rt_size = returns_value(plan) ? sizeof(plan.RT) : 0
        sret_primal = nothing
        sret_shadows = Dict{Int,LLVM.Value}()
        byref_active = Dict{Int,LLVM.Value}()   # ArgPlan index => zeroed shadow buffer
        args = LLVM.Value[]
        for (i, s) in enumerate(gen.params)
            t = ptys[i]
            k = s.arg == 0 ? 0 : pmap.arg_of_param[s.arg]
            if s.role === :primal && pmap.sret && s.arg == 1
                sret_primal = zeroed_alloca!(b, rt_size)
                push!(args, cast_to(b, sret_primal, t))
            elseif s.role === :shadow && pmap.sret && s.arg == 1
                buf = zeroed_alloca!(b, rt_size)
                if fnkind === :combined && plan.ret === :active
                    # The adjoint of a result returned through memory is seeded there.
                    copy_bytes!(b, buf, slot_pointer(b, argv, pindex((:seed, 0, 0))), rt_size)
                end
                sret_shadows[s.lane] = buf
                push!(args, cast_to(b, buf, t))
            elseif s.role === :primal
                push!(args, from_memory(b, slot_pointer(b, argv, pindex((:primal, k, 0))), t))
            elseif s.role === :shadow && has_shadow(plan.args[k])
                push!(args, from_memory(b, slot_pointer(b, argv, pindex((:shadow, k, s.lane))), t))
            elseif s.role === :shadow && plan.args[k].kind === :active
                buf = zeroed_alloca!(b, sizeof(plan.args[k].T))
                byref_active[k] = buf
                push!(args, cast_to(b, buf, t))
            elseif s.role === :seed
                push!(args, LLVM.load!(b, t, slot_pointer(b, argv, pindex((:seed, 0, 0)))))
            elseif s.role === :tape
                push!(args, LLVM.load!(b, t, slot_pointer(b, argv, pindex((:tape, 0, 0)))))
            else
                error("RadX: no slot for parameter $i ($(s.role)) of $(gen.name)")
            end
        end
        r = LLVM.call!(b, fty, fn, args)
        for (j, (s, v)) in enumerate(zip(gen.results, result_values(b, r, length(gen.results))))
            key = if s.role === :adjoint
                (:adjoint, pmap.arg_of_param[s.arg], 0)
            elseif s.role === :return_shadow
                (:return_shadow, 0, fnkind === :augmented ? 1 : s.lane)
            else
                (s.role, 0, 0)
            end
            idx = rindex(key)
            idx == 0 && continue          # a result the Julia side did not ask for
            LLVM.store!(b, v, slot_pointer(b, resv, idx))
        end
        for (k, buf) in byref_active
            copy_bytes!(b, slot_pointer(b, resv, rindex((:adjoint, k, 0))), buf, sizeof(plan.args[k].T))
        end
        if sret_primal !== nothing && rindex((:return, 0, 0)) != 0
            copy_bytes!(b, slot_pointer(b, resv, rindex((:return, 0, 0))), sret_primal, rt_size)
        end
        if fnkind === :forward
            for (lane, buf) in sret_shadows
                idx = rindex((:return_shadow, 0, lane))
                idx == 0 || copy_bytes!(b, slot_pointer(b, resv, idx), buf, rt_size)
            end
        end
        LLVM.ret!(b)
    end
    return w
end

"""
    build_direct_wrapper!(mod, gen, name) -> LLVM.Function

An entry wrapper with the direct layout: argument slot `i` is parameter `i` of `gen`,
result slot `j` its result `j` (used by [`hvp`](@ref), whose slots come from libradx's
report at run time).
"""
function build_direct_wrapper!(mod::LLVM.Module, gen::GeneratedFunction, name::String)
    fn = LLVM.functions(mod)[gen.name]
    fty = LLVM.function_type(fn)
    ptys = LLVM.parameters(fty)
    wty = LLVM.FunctionType(LLVM.VoidType(), LLVM.LLVMType[opaque_ptr(), opaque_ptr()])
    w = LLVM.Function(mod, name, wty)
    LLVM.linkage!(w, LLVM.API.LLVMExternalLinkage)
    LLVM.@dispose b = LLVM.IRBuilder() begin
        LLVM.position!(b, LLVM.BasicBlock(w, "entry"))
        argv, resv = LLVM.parameters(w)
        args = LLVM.Value[from_memory(b, slot_pointer(b, argv, i), t) for (i, t) in enumerate(ptys)]
        r = LLVM.call!(b, fty, fn, args)
        for (j, v) in enumerate(result_values(b, r, length(gen.results)))
            LLVM.store!(b, v, slot_pointer(b, resv, j))
        end
        LLVM.ret!(b)
    end
    return w
end
