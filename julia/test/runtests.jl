# RadX.jl tests: derivatives compared with analytic values and central finite differences.
# GPU tests run only when CUDA.jl / AMDGPU.jl are installed and a device is functional.
#
#     julia --project=julia/RadX.jl -e 'using Pkg; Pkg.test()'     (from the checkout's root)

using Test
using RadX
using LinearAlgebra: dot, norm

# ---- helpers --------------------------------------------------------------------------------

central(f, x::Real; h=1e-6) = (f(x + h) - f(x - h)) / (2h)

function central_gradient(f, x::AbstractArray; h=1e-6)
    g = similar(x)
    for i in eachindex(x)
        xp, xm = copy(x), copy(x)
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2h)
    end
    return g
end

function central_jacobian(f, x::AbstractArray; h=1e-6)
    y = f(x)
    J = zeros(length(y), length(x))
    for (j, i) in enumerate(eachindex(x))
        xp, xm = copy(x), copy(x)
        xp[i] += h
        xm[i] -= h
        J[:, j] = (vec(f(xp)) - vec(f(xm))) / (2h)
    end
    return J
end

# Either the right value, or (for constructs the engine does not handle yet) a RadXError of
# one of the given kinds, recorded as broken rather than hidden.
function value_or_known_gap(thunk, want; statuses=(RadX.RADX_ERR_UNSUPPORTED, RadX.RADX_ERR_NO_RULE), rtol=1e-8)
    got = try
        thunk()
    catch err
        err
    end
    if got isa RadXError && got.status in statuses
        @info "known gap in the engine" exception = got
        @test_broken false
    else
        @test got ≈ want rtol = rtol
    end
end

# ---- functions under test (top level: structs and closures need stable types) -----------------

f1(x) = x^2 * sin(x)
df1(x) = 2x * sin(x) + x^2 * cos(x)
f2(x, y) = x * exp(y) + log1p(x * y)
f32(x::Float32) = x^3 - 2x
powi(x, n::Int) = x^n

sumsq(x) = sum(abs2, x)
weighted(w, x) = dot(w, x .^ 2)
softplus_sum(x) = sum(log1p.(exp.(x)))
rosenbrock(x) = sum(100 * (x[i+1] - x[i]^2)^2 + (1 - x[i])^2 for i in 1:length(x)-1)
vecfun(x) = [x[1] * x[2], sin(x[1]) + x[3]^2, exp(x[2] - x[3])]

function scale!(y, x, a)
    for i in eachindex(x)
        y[i] = a * x[i]^2
    end
    return nothing
end

function cumsum_inplace!(x)
    for i in 2:length(x)
        x[i] += x[i-1] * 0.5
    end
    return nothing
end

make_affine(a, b) = x -> a * x + b * x^2
make_dot(w) = x -> dot(w, x)

struct Point
    x::Float64
    y::Float64
end
pfun(p::Point) = p.x^2 * p.y + 3p.y

mutable struct Particle
    pos::Float64
    vel::Float64
end
energy(p::Particle) = 0.5 * p.vel^2 + 9.81 * p.pos + p.pos^2

tuplefun(t::Tuple{Float64,Float64}) = t[1] * t[2]^2

@noinline mysquare(x::Float64) = x * x
uses_mysquare(x) = 3 * mysquare(x) + x
mysquare_fwd(x, dx) = (x * x, 2x * dx)

function spawned(x)
    t = Threads.@spawn x^3
    return fetch(t)::Float64
end

@noinline external_cos(x::Float64) = ccall(:cos, Float64, (Float64,), x)

# ---- tests ----------------------------------------------------------------------------------------

@testset "RadX.jl" begin
    @testset "library and versions" begin
        @test isfile(RadX.load_libradx())
        @test RadX.libradx_llvm_version().major == Base.libllvm_version.major
        row = RadX.version_support()
        @test row === nothing || row.status === :supported
        @test endswith(RadX.load_libradx(), RadX.library_file(RadX.llvm_build(Base.libllvm_version))) || haskey(ENV, "RADX_LIB")
        include("loader.jl")
    end

    @testset "scalars" begin
        for x in (0.3, -1.2, 2.5)
            @test autodiff(Reverse, f1, Active, Active(x))[1][1] ≈ df1(x)
            @test autodiff(Forward, f1, Duplicated(x, 1.0))[1] ≈ df1(x)
            @test derivative(Forward, f1, x) ≈ central(f1, x) rtol = 1e-6
            @test derivative(Reverse, f1, x) ≈ df1(x)
            dx, y = autodiff(ReverseWithPrimal, f1, Active, Active(x))
            @test y ≈ f1(x) && dx[1] ≈ df1(x)
            t, y = autodiff(ForwardWithPrimal, f1, Duplicated(x, 2.0))
            @test y ≈ f1(x) && t ≈ 2df1(x)
        end
        x, y = 0.7, -0.4
        ((gx, gy),) = autodiff(Reverse, f2, Active, Active(x), Active(y))
        @test gx ≈ central(a -> f2(a, y), x) rtol = 1e-6
        @test gy ≈ central(b -> f2(x, b), y) rtol = 1e-6
        ((gx, gy),) = autodiff(Reverse, f2, Active, Active(x), Const(y))
        @test gx ≈ exp(y) + y / (1 + x * y) && gy === nothing
        @test autodiff(Reverse, f32, Active, Active(1.5f0))[1][1] ≈ 3 * 1.5f0^2 - 2
        @test autodiff(Reverse, powi, Active, Active(1.3), Const(5))[1][1] ≈ 5 * 1.3^4
        # Batch: three tangents in one call.
        ts = autodiff(Forward, f2, BatchDuplicated(x, (1.0, 0.0, 2.0)), BatchDuplicated(y, (0.0, 1.0, 1.0)))[1]
        @test ts[1] ≈ gx rtol = 1e-12
        @test ts[2] ≈ central(b -> f2(x, b), y) rtol = 1e-6
        @test ts[3] ≈ 2 * ts[1] + ts[2]
        @test gradient(Reverse, f2, x, y)[1] ≈ gx
    end

    @testset "arrays" begin
        x = [0.5, -1.0, 2.0, 0.25]
        dx = zero(x)
        autodiff(Reverse, sumsq, Active, Duplicated(x, dx))
        @test dx ≈ 2x
        @test gradient(Reverse, softplus_sum, x)[1] ≈ 1 ./ (1 .+ exp.(-x))
        @test gradient(Reverse, rosenbrock, x)[1] ≈ central_gradient(rosenbrock, x) rtol = 1e-5
        @test gradient(Forward, rosenbrock, x)[1] ≈ central_gradient(rosenbrock, x) rtol = 1e-5
        @test gradient(Forward, rosenbrock, x; chunk=2)[1] ≈ gradient(Reverse, rosenbrock, x)[1]
        w = [1.0, 2.0, 3.0, 4.0]
        gw, gx = gradient(Reverse, weighted, w, x)
        @test gw ≈ x .^ 2 && gx ≈ 2 .* w .* x
        @test gradient(Reverse, weighted, Const(w), x)[1] === nothing
        @test autodiff(Forward, sumsq, Duplicated(x, ones(4)))[1] ≈ 2sum(x)
        x3 = [0.3, 0.8, -0.5]
        @test jacobian(Forward, vecfun, x3)[1] ≈ central_jacobian(vecfun, x3) rtol = 1e-5
        @test jacobian(Reverse, vecfun, x3)[1] ≈ jacobian(Forward, vecfun, x3)[1]
    end

    @testset "mutation" begin
        x = [1.0, -2.0, 0.5]
        y = zeros(3)
        dx, dy = zeros(3), [1.0, 0.5, -1.0]
        a = 1.5
        ((_, _, da),) = autodiff(Reverse, scale!, Const, Duplicated(y, dy), Duplicated(x, dx), Active(a))
        @test y ≈ a .* x .^ 2
        @test dx ≈ [1.0, 0.5, -1.0] .* 2a .* x
        @test da ≈ sum([1.0, 0.5, -1.0] .* x .^ 2)
        @test all(iszero, dy)            # the output's adjoint is consumed
        # In place, forward mode: the tangent of x follows the recurrence.
        v, dv = [1.0, 2.0, 3.0], [1.0, 0.0, 0.0]
        autodiff(Forward, cumsum_inplace!, Const, Duplicated(v, dv))
        @test v ≈ [1.0, 2.5, 4.25] && dv ≈ [1.0, 0.5, 0.25]
    end

    @testset "closures" begin
        h = make_affine(3.0, 0.5)
        @test autodiff(Reverse, h, Active, Active(2.0))[1][1] ≈ 3.0 + 2 * 0.5 * 2.0
        @test autodiff(Forward, h, Duplicated(2.0, 1.0))[1] ≈ 5.0
        w, dw = [1.0, -1.0, 2.0], zeros(3)
        x, dx = [0.5, 0.25, 4.0], zeros(3)
        autodiff(Reverse, Duplicated(make_dot(w), make_dot(dw)), Active, Duplicated(x, dx))
        @test dw ≈ x && dx ≈ w
    end

    @testset "structs" begin
        p = Point(1.5, -2.0)
        ((dp,),) = autodiff(Reverse, pfun, Active, Active(p))
        @test dp isa Point && dp.x ≈ 2 * 1.5 * -2.0 && dp.y ≈ 1.5^2 + 3
        @test autodiff(Forward, pfun, Duplicated(p, Point(1.0, 0.0)))[1] ≈ 2 * 1.5 * -2.0
        q, dq = Particle(2.0, 3.0), Particle(0.0, 0.0)
        autodiff(Reverse, energy, Active, Duplicated(q, dq))
        @test dq.pos ≈ 9.81 + 4.0 && dq.vel ≈ 3.0
        ((dt,),) = autodiff(Reverse, tuplefun, Active, Active((2.0, 3.0)))
        @test dt[1] ≈ 9.0 && dt[2] ≈ 12.0
    end

    @testset "split mode" begin
        fwd, rev = autodiff_thunk(ReverseSplitWithPrimal, Const{typeof(f1)}, Active, Active{Float64})
        tape, y, _ = fwd(Const(f1), Active(0.9))
        @test y ≈ f1(0.9) && tape isa Ptr{Cvoid} && tape != C_NULL
        ((d,),) = rev(Const(f1), Active(0.9), 2.0, tape)
        @test d ≈ 2df1(0.9)
        fwd, rev = autodiff_thunk(ReverseSplitNoPrimal, Const{typeof(sumsq)}, Active, Duplicated{Vector{Float64}})
        x, dx = [1.0, 2.0], zeros(2)
        tape, y, _ = fwd(Const(sumsq), Duplicated(x, dx))
        @test y === nothing
        rev(Const(sumsq), Duplicated(x, dx), 1.0, tape)
        @test dx ≈ 2x
    end

    @testset "second order (hvp)" begin
        @test hvp(sin, 0.7, 2.0) ≈ -sin(0.7) * 2.0
        x, v = [0.5, -1.0, 2.0], [1.0, 2.0, -1.0]
        @test hvp(x -> sum(x .^ 3), x, v) ≈ 6 .* x .* v
        H = central_jacobian(z -> gradient(Reverse, rosenbrock, z)[1], [0.3, 0.4, 0.5]; h=1e-5)
        @test hvp(rosenbrock, [0.3, 0.4, 0.5], v) ≈ H * v rtol = 1e-4
    end

    @testset "custom rules" begin
        register_rule!(mysquare, Tuple{Float64}; forward=mysquare_fwd)
        try
            @test autodiff(Forward, uses_mysquare, Duplicated(1.5, 1.0))[1] ≈ 3 * 2 * 1.5 + 1
            # Reverse mode has no rule registered: differentiated from the body.
            @test autodiff(Reverse, uses_mysquare, Active, Active(1.5))[1][1] ≈ 10.0
        finally
            clear_rules!()
        end
        @test_throws ArgumentError register_rule!(mysquare, Tuple{Float64})
        @test_throws ArgumentError register_rule!(mysquare, Tuple{Float64}; augmented=identity)
    end

    @testset "errors" begin
        @test_throws ArgumentError autodiff(Forward, f1, Active(1.0))
        @test_throws ArgumentError autodiff(Reverse, Active(f1), Active, Active(1.0))
        @test_throws ArgumentError Active([1.0])
        err = try
            autodiff(Reverse, f1, Active, Active(1.0); runtime_activity=true)
        catch e
            e
        end
        @test err isa RadXError && err.status == RadX.RADX_ERR_UNSUPPORTED
        @test occursin("runtime activity", sprint(showerror, err))
        # A foreign function without a derivative rule is reported, with its name.
        err = try
            autodiff(Reverse, external_cos, Active, Active(0.5))
            nothing
        catch e
            e
        end
        if err === nothing
            @test autodiff(Reverse, external_cos, Active, Active(0.5))[1][1] ≈ -sin(0.5)
        else
            @test err isa RadXError && occursin("cos", sprint(showerror, err))
        end
    end

    @testset "tasks" begin
        # Many tasks differentiate at once: compilation and calls are thread-safe.
        results = fetch.([Threads.@spawn autodiff(Reverse, f1, Active, Active(0.1 * i))[1][1] for i in 1:16])
        @test results ≈ [df1(0.1 * i) for i in 1:16]
        # A function that itself spawns a task.
        value_or_known_gap(() -> autodiff(Reverse, spawned, Active, Active(1.2))[1][1], 3 * 1.2^2)
    end

    @testset "RadX.check" begin
        include("check.jl")
    end

    @testset "persistent derivative cache" begin
        include("disk_cache.jl")
    end

    function try_load(pkg::Symbol)
        Base.find_package(String(pkg)) === nothing && return nothing
        try
            Core.eval(Main, :(using $pkg))
            return getfield(Main, pkg)
        catch err
            @info "RadX tests: $pkg does not load; its tests are skipped" exception = err
            return nothing
        end
    end

    cuda = try_load(:CUDA)
    if cuda !== nothing && Base.invokelatest(cuda.functional)
        @testset "CUDA" begin
            include("cuda.jl")
        end
    else
        @info "RadX tests: no functional CUDA device; CUDA tests skipped"
    end
    amdgpu = try_load(:AMDGPU)
    if amdgpu !== nothing && Base.invokelatest(amdgpu.functional)
        @testset "AMDGPU" begin
            include("amdgpu.jl")
        end
    else
        @info "RadX tests: no functional AMDGPU device; AMDGPU tests skipped"
    end
end
