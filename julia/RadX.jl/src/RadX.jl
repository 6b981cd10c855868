"""
    RadX

Automatic differentiation of Julia code at the level of LLVM IR, by the RadX engine
(`libradx`). The API follows Enzyme.jl's: modes ([`Forward`](@ref), [`Reverse`](@ref), ...),
activity annotations ([`Const`](@ref), [`Active`](@ref), [`Duplicated`](@ref), ...),
[`autodiff`](@ref) and the conveniences [`gradient`](@ref), [`jacobian`](@ref),
[`derivative`](@ref) and [`hvp`](@ref).

How a call works: GPUCompiler.jl compiles the method instance to (unoptimized, stage-1) LLVM
IR; libradx adds the derivative to that module, in process when Julia's libLLVM is the one
libradx was built against and through bitcode otherwise; RadX.jl adds a small entry wrapper
with a uniform calling convention, lowers the module with Julia's own pipeline, adds it to
Julia's ORC JIT and calls the wrapper. Results are cached per function, argument types,
activities and mode. All derivative logic lives in libradx; this package is the glue.

See `docs/julia.md` in the RadX repository for a guide, and `docs/versions.md` for the
supported Julia and LLVM versions.
"""
module RadX

import LLVM
import GPUCompiler
using Libdl
import Random

export Forward, ForwardWithPrimal, Reverse, ReverseWithPrimal, ReverseSplitWithPrimal, ReverseSplitNoPrimal
export Annotation, Const, Active, Duplicated, DuplicatedNoNeed, BatchDuplicated
export autodiff, autodiff_thunk, autodiff_deferred, gradient, jacobian, derivative, hvp
export RadXError, @radx_rule, register_rule!, clear_rules!, set_disk_cache!

include("versions.jl")
include("build.jl")
include("annotations.jl")
include("libradx.jl")
include("rules.jl")
include("wrapper.jl")
include("compiler.jl")
include("call.jl")
include("api.jl")
include("deferred.jl")
include("check.jl")

function __init__()
    # libradx is loaded lazily (first use), so that `using RadX` works, and reports what is
    # missing, on a machine where the library has not been built yet.
    reset_caches!()
    return nothing
end

end # module
