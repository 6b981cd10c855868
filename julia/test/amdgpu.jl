# AMDGPU tests (included by runtests.jl only when a ROCm device is functional): derivatives
# inside kernels through RadX.autodiff_deferred, compared with analytic values.
using AMDGPU

square_elem_roc!(x, i) = (@inbounds x[i] = x[i]^2; nothing)
cube_roc(x) = x^3

function reverse_kernel_roc!(x, dx)
    i = workitemIdx().x
    RadX.autodiff_deferred(Reverse, Const(square_elem_roc!), Const, Duplicated(x, dx), Const(i))
    return nothing
end

function forward_kernel_roc!(out, xs)
    i = workitemIdx().x
    @inbounds out[i] = RadX.autodiff_deferred(Forward, Const(cube_roc), Duplicated, Duplicated(xs[i], 1.0f0))[1]
    return nothing
end

x0 = Float32[0.5, -1.0, 2.0, 3.0]
x, dx = ROCArray(x0), AMDGPU.ones(Float32, 4)
@roc groupsize = 4 reverse_kernel_roc!(x, dx)
@test Array(x) ≈ x0 .^ 2
@test Array(dx) ≈ 2 .* x0

out = AMDGPU.zeros(Float32, 4)
@roc groupsize = 4 forward_kernel_roc!(out, ROCArray(x0))
@test Array(out) ≈ 3 .* x0 .^ 2
