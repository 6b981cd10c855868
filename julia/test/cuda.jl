# CUDA tests (included by runtests.jl only when a CUDA device is functional): derivatives
# inside kernels through RadX.autodiff_deferred, compared with analytic values.
using CUDA

square_elem!(x, i) = (@inbounds x[i] = x[i]^2; nothing)
cube(x) = x^3

function reverse_kernel!(x, dx)
    i = threadIdx().x
    RadX.autodiff_deferred(Reverse, Const(square_elem!), Const, Duplicated(x, dx), Const(i))
    return nothing
end

function forward_kernel!(out, xs)
    i = threadIdx().x
    @inbounds out[i] = RadX.autodiff_deferred(Forward, Const(cube), Duplicated, Duplicated(xs[i], 1.0f0))[1]
    return nothing
end

x0 = Float32[0.5, -1.0, 2.0, 3.0]
x, dx = CuArray(x0), CUDA.ones(Float32, 4)
@cuda threads = 4 reverse_kernel!(x, dx)
@test Array(x) ≈ x0 .^ 2
@test Array(dx) ≈ 2 .* x0

out = CUDA.zeros(Float32, 4)
@cuda threads = 4 forward_kernel!(out, CuArray(x0))
@test Array(out) ≈ 3 .* x0 .^ 2
