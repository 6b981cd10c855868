# Deferred code generation: `autodiff_deferred` inside code GPUCompiler compiles (GPU
# kernels). The call site asks GPUCompiler for a function pointer with
# `ccall("extern deferred_codegen", llvmcall, ...)` and an id under which a RadX compiler job
# is registered in `GPUCompiler.deferred_codegen_jobs`. When GPUCompiler compiles the kernel
# it compiles that job for the kernel's own target (`nest_target`/`nest_params`), which
# runs `compile_unhooked` below: the primal for that target, libradx on the module, the
# uniform entry wrapper as the job's entry; GPUCompiler links it into the kernel and turns
# the call through the pointer into a direct call. The call site builds its argument and
# result slots from the type-level Plan, exactly as the CPU path does.

"""
    RadXTarget(target)

The GPUCompiler target of RadX's deferred jobs: wraps the target of the code the job is
nested into (a PTX or GCN target inside kernels) and forwards triple, datalayout and
machine to it.
"""
struct RadXTarget{T<:GPUCompiler.AbstractCompilerTarget} <: GPUCompiler.AbstractCompilerTarget
    target::T
end
RadXTarget() = RadXTarget(GPUCompiler.NativeCompilerTarget(; jlruntime=true))

GPUCompiler.llvm_triple(t::RadXTarget) = GPUCompiler.llvm_triple(t.target)
GPUCompiler.llvm_datalayout(t::RadXTarget) = GPUCompiler.llvm_datalayout(t.target)
GPUCompiler.llvm_machine(t::RadXTarget) = GPUCompiler.llvm_machine(t.target)
GPUCompiler.nest_target(::RadXTarget, other::GPUCompiler.AbstractCompilerTarget) = RadXTarget(other)
GPUCompiler.have_fma(t::RadXTarget, T::Type) = GPUCompiler.have_fma(t.target, T)

"""
    DeferredParams(params, mode, FA, RA, argannots, RT)

GPUCompiler parameters of a deferred job: the parameters of the code it is nested into and
what to differentiate.
"""
struct DeferredParams{P<:GPUCompiler.AbstractCompilerParams} <: GPUCompiler.AbstractCompilerParams
    params::P
    mode::Mode
    FA::Type
    RA::Any
    argannots::Tuple
    RT::Type
end
GPUCompiler.nest_params(p::DeferredParams, other::GPUCompiler.AbstractCompilerParams) =
    DeferredParams(other, p.mode, p.FA, p.RA, p.argannots, p.RT)

const DeferredJob = GPUCompiler.CompilerJob{<:RadXTarget,<:DeferredParams}

function GPUCompiler.compile_unhooked(output::Symbol, job::DeferredJob)
    output === :llvm || error("RadX: deferred jobs produce LLVM IR only")
    p = job.config.params
    config = GPUCompiler.CompilerConfig(job.config.target.target, p.params; toplevel=job.config.toplevel,
                                        always_inline=job.config.always_inline, kernel=false, libraries=true,
                                        optimize=false, cleanup=false, only_entry=false, validate=false)
    mod, meta = GPUCompiler.compile_unhooked(:llvm, GPUCompiler.CompilerJob(job.source, config, job.world))
    plan = make_plan(p.mode, p.FA, p.RA, p.argannots, p.RT)
    plan.mode === :split && error("RadX: split mode is not available through autodiff_deferred")
    mod, out, pmap = differentiate_entry(mod, meta, meta.entry, plan)
    w = build_wrapper!(mod, out.functions[1], plan.mode, plan, pmap, fresh_entry_name(1))
    return mod, (; entry=w, compiled=meta.compiled)
end

const DEFERRED_LOCK = ReentrantLock()
const DEFERRED_IDS = Dict{Any,Int}()
# Ids far from GPUCompiler's own small counters.
const DEFERRED_BASE = 1 << 40

"""
    register_deferred(mode, FA, RA, argannots, RT) -> Int

Registers the deferred job for a call (once per signature) and returns its id.
"""
function register_deferred(mode::Mode, @nospecialize(FA), @nospecialize(RA), argannots::Tuple, @nospecialize(RT))
    lock(DEFERRED_LOCK) do
        get!(DEFERRED_IDS, (typeof(mode), FA, RA, argannots, RT)) do
            id = DEFERRED_BASE + length(DEFERRED_IDS)
            world = Base.get_world_counter()
            mi = GPUCompiler.methodinstance(primal_type(FA), Tuple{map(primal_type, argannots)...}, world)
            params = DeferredParams(RadXParams(), mode, FA, RA, argannots, RT)
            config = GPUCompiler.CompilerConfig(RadXTarget(), params; kernel=false)
            GPUCompiler.deferred_codegen_jobs[id] = GPUCompiler.CompilerJob(mi, config, world)
            id
        end
    end
end

# The id of a call site, computed once when the caller is compiled.
@generated function deferred_id(mode::Mode, ::Type{FA}, ::Type{RA}, ::Type{TT}) where {FA,RA,TT}
    argannots = Tuple(TT.parameters)
    RT = return_type_of(primal_type(FA), map(primal_type, argannots))
    id = register_deferred(mode.instance, FA, RA, argannots, RT)
    return :($id)
end

"""
    device_pointer_call(fptr, argv, resv)

Calls a uniform entry wrapper through a pointer from LLVM IR, so that GPUCompiler can turn
it into a direct call once the deferred job is linked in.
"""
@inline function device_pointer_call(fptr::Ptr{Cvoid}, argv::Ptr{Cvoid}, resv::Ptr{Cvoid})
    @static if VERSION >= v"1.12"
        Base.llvmcall(("""
            define void @entry(ptr %f, ptr %a, ptr %r) #0 {
              call void %f(ptr %a, ptr %r)
              ret void
            }
            attributes #0 = { alwaysinline }""", "entry"), Cvoid, Tuple{Ptr{Cvoid},Ptr{Cvoid},Ptr{Cvoid}}, fptr, argv, resv)
    else
        Base.llvmcall(("""
            define void @entry(i64 %f, i64 %a, i64 %r) #0 {
              %fp = inttoptr i64 %f to ptr
              %ap = inttoptr i64 %a to ptr
              %rp = inttoptr i64 %r to ptr
              call void %fp(ptr %ap, ptr %rp)
              ret void
            }
            attributes #0 = { alwaysinline }""", "entry"), Cvoid, Tuple{Ptr{Cvoid},Ptr{Cvoid},Ptr{Cvoid}}, fptr, argv, resv)
    end
end

"""
    autodiff_deferred_device(mode, f, RA, args...)

The device-side [`autodiff_deferred`](@ref) (the GPU extensions route `autodiff_deferred`
here inside kernels). Arguments must be bits values (device arrays, numbers, structs of
them); the slots are stack objects.
"""
@generated function autodiff_deferred_device(mode::Mode, fa::Annotation, ::Type{RA}, args::Annotation...) where {RA}
    M = mode.instance
    argannots = Tuple(args)
    FA = fa
    RT = return_type_of(primal_type(FA), map(primal_type, argannots))
    plan = make_plan(M, FA, RA, argannots, RT)
    kind = plan.mode
    kind === :split && return :(throw(ArgumentError("split mode is not available through autodiff_deferred")))
    all = (:fa, (:(args[$i]) for i in 1:length(args))...)
    slots = Expr[]
    for (role, k, lane) in param_layout(plan, kind)
        src = all[plan.args[k == 0 ? 1 : k].index]
        push!(slots, role === :primal ? :(Ref($src.val)) :
                     role === :shadow ? :(Ref(shadows($src)[$lane])) :
                     :(Ref{$RT}(one($RT))))
    end
    rl = result_layout(plan, kind)
    res = [role === :adjoint ? :(Ref{$(plan.args[k].T)}()) : :(Ref{$RT}()) for (role, k, _) in rl]
    ns, nr = length(slots), length(res)
    out = Expr[]
    if kind === :forward
        if plan.ret === :dup || plan.ret === :dup_noneed
            lanes = [:(r[$(findfirst(==((:return_shadow, 0, l)), rl))][]) for l in 1:plan.width]
            push!(out, plan.width == 1 ? lanes[1] : :(($(lanes...),)))
        end
        plan.return_primal && push!(out, :(r[$(findfirst(==((:return, 0, 0)), rl))][]))
        ret = :(($(out...),))
    else
        adj = Any[:nothing for _ in 1:length(args)]
        for (k, a) in enumerate(plan.args)
            a.kind === :active && a.index > 1 && (adj[a.index-1] = :(r[$(findfirst(==((:adjoint, k, 0)), rl))][]))
        end
        ret = plan.return_primal ? :((($(adj...),), r[$(findfirst(==((:return, 0, 0)), rl))][])) : :((($(adj...),),))
    end
    return quote
        Base.@_inline_meta
        id = deferred_id(mode, $FA, $RA, $(Tuple{argannots...}))
        fptr = ccall("extern deferred_codegen", llvmcall, Ptr{Cvoid}, (Int,), id)
        s = ($(slots...),)
        r = ($(res...),)
        GC.@preserve s r begin
            argv = Ref(ntuple(i -> Ptr{Cvoid}(pointer_from_objref(s[i])), $ns))
            resv = Ref(ntuple(i -> Ptr{Cvoid}(pointer_from_objref(r[i])), $nr))
            GC.@preserve argv resv device_pointer_call(fptr, Ptr{Cvoid}(pointer_from_objref(argv)), Ptr{Cvoid}(pointer_from_objref(resv)))
        end
        return $ret
    end
end
