"""
    RadXAMDGPUExt

AMDGPU.jl support for RadX: inside ROCm kernels `RadX.autodiff_deferred` compiles the
derivative together with the kernel (GPUCompiler's deferred code generation for the GCN
target). The entry wrapper's stack buffers follow the target's alloca address space
(5 on AMDGPU), which LLVM's builder takes from the module's datalayout.
"""
module RadXAMDGPUExt

using AMDGPU
import RadX

AMDGPU.@device_override @inline function RadX.autodiff_deferred(mode::RadX.Mode, f, ::Type{RA},
                                                               args::RadX.Annotation...) where {RA<:RadX.Annotation}
    return RadX.autodiff_deferred_device(mode, RadX.annotate_function(f), RA, args...)
end

"""
    RadX.zero_shadow(x::ROCArray)

A zeroed device array shaped like `x`.
"""
RadX.zero_shadow(x::ROCArray{<:Number}) = AMDGPU.zeros(eltype(x), size(x))

end # module
