"""
    RadXCUDAExt

CUDA.jl support for RadX: inside CUDA kernels `RadX.autodiff_deferred` compiles the
derivative together with the kernel (GPUCompiler's deferred code generation for the PTX
target), instead of calling libradx at run time.

```julia
function grad_kernel!(x, dx)
    i = threadIdx().x
    RadX.autodiff_deferred(Reverse, Const(sumsq!), Const, Duplicated(x, dx))
    return nothing
end
@cuda threads=length(x) grad_kernel!(x, dx)
```
"""
module RadXCUDAExt

using CUDA
import RadX

CUDA.@device_override @inline function RadX.autodiff_deferred(mode::RadX.Mode, f, ::Type{RA},
                                                             args::RadX.Annotation...) where {RA<:RadX.Annotation}
    return RadX.autodiff_deferred_device(mode, RadX.annotate_function(f), RA, args...)
end

"""
    RadX.zero_shadow(x::CuArray)

A zeroed device array shaped like `x`, the shadow `RadX.gradient` uses for device arrays.
"""
RadX.zero_shadow(x::CuArray{<:Number}) = CUDA.zeros(eltype(x), size(x))

end # module
