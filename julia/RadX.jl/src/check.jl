# RadX.check: the gradient self-check of `radx check`, for Julia functions. The same checks
# as the C tool (docs/check.md): the reverse-mode gradient against central finite
# differences (Richardson-extrapolated, the step scaled per argument) element by element,
# and the dot-product test against forward mode, at the given point and at two points near
# it.

"""
    CheckRow(argument, check, max_rel_error, worst_index, ok)

One line of a [`check`](@ref) report.
"""
struct CheckRow
    argument::String
    check::String
    max_rel_error::Float64
    worst_index::Int
    ok::Bool
end

"""
    CheckReport

What [`check`](@ref) found; `passed(report)` says whether every row is within tolerance.
Printing it shows the table.
"""
struct CheckReport
    f::Any
    rows::Vector{CheckRow}
end

passed(r::CheckReport) = all(row -> row.ok, r.rows)

function Base.show(io::IO, ::MIME"text/plain", r::CheckReport)
    println(io, "RadX.check of ", r.f, ": ", passed(r) ? "OK" : "MISMATCH")
    println(io, rpad("  argument", 26), rpad("check", 24), lpad("max rel error", 14), lpad("worst index", 13), "  verdict")
    for row in r.rows
        e = isfinite(row.max_rel_error) ? string(round(row.max_rel_error; sigdigits=3)) : "non-finite"
        w = row.worst_index > 0 ? string(row.worst_index) : "-"
        println(io, rpad("  " * row.argument, 26), rpad(row.check, 24), lpad(e, 14), lpad(w, 13), "  ", row.ok ? "ok" : "MISMATCH")
    end
end

const CHECK_FD_TOL = 1e-6
const CHECK_DOT_TOL = 1e-9

flatten_inputs(args) = reduce(vcat, (a isa Number ? [Float64(a)] : vec(Float64.(a)) for a in args); init=Float64[])

function unflatten(args, x)
    k = 0
    return map(args) do a
        if a isa Number
            k += 1
            oftype(a, x[k])
        else
            b = similar(a)
            for i in eachindex(b)
                k += 1
                b[i] = x[k]
            end
            b
        end
    end
end

# Central differences of the scalar f along d, Richardson-extrapolated.
function fd_along(f, args, x, d; t=1e-3)
    D(h) = (f(unflatten(args, x .+ h .* d)...) - f(unflatten(args, x .- h .* d)...)) / (2h)
    return (4 * D(t / 2) - D(t)) / 3
end

"""
    RadX.check(f, args...; seed=1, points=3) -> CheckReport

Checks RadX's derivatives of the scalar function `f` at `args` (numbers and arrays of
floating-point numbers), and at `points - 1` points near it: the reverse-mode gradient
against finite differences per argument (up to 24 elements each, sampled beyond), and
the dot-product test between reverse and forward mode. `passed(report)` is the verdict;
the report prints as a table.
"""
function check(f, args...; seed::Integer=1, points::Integer=3)
    rng = Random.MersenneTwister(seed)
    x0 = flatten_inputs(args)
    owner = reduce(vcat, ([i for _ in 1:(a isa Number ? 1 : length(a))] for (i, a) in enumerate(args)); init=Int[])
    scale = [max(sqrt(sum(abs2, x0[owner .== i]) / max(count(==(i), owner), 1)), 1e-3) for i in eachindex(args)]
    fd_err = zeros(length(args))
    fd_worst = zeros(Int, length(args))
    dot_err = 0.0
    for p in 1:points
        x = p == 1 ? copy(x0) : x0 .* (1 .+ 0.02 .* (2 .* rand(rng, length(x0)) .- 1))
        point = unflatten(args, x)
        g = gradient(Reverse, f, point...)
        gflat = flatten_inputs(map((gi, a) -> gi === nothing ? zero(a) : gi, g, point))
        for i in eachindex(args)
            elems = findall(==(i), owner)
            length(elems) > 24 && (elems = elems[sort(Random.randperm(rng, length(elems))[1:24])])
            fds = map(elems) do k
                e = zeros(length(x))
                e[k] = scale[i]
                fd_along(f, args, x, e) / scale[i]
            end
            big = maximum(abs, fds; init=0.0)
            for (j, k) in enumerate(elems)
                err = abs(gflat[k] - fds[j]) / max(big, floatmin(Float64))
                isfinite(gflat[k]) || (err = Inf)
                if err > fd_err[i]
                    fd_err[i] = err
                    fd_worst[i] = k - findfirst(==(i), owner) + 1
                end
            end
        end
        # w·(J v) against (Jᵀ w)·v, with w = 1 for the scalar result
        v = randn(rng, length(x)) .* scale[owner]
        vs = unflatten(args, v)
        jv = autodiff(Forward, f, map((a, d) -> Duplicated(a, d), point, vs)...)[1]
        lhs, rhs = jv, sum(gflat .* v)
        err = abs(lhs - rhs) / max(abs(lhs) + sum(abs, gflat .* v), floatmin(Float64))
        dot_err = max(dot_err, isfinite(err) ? err : Inf)
    end
    rows = [CheckRow("argument $i ($(typeof(args[i])))", "finite differences", fd_err[i], fd_worst[i], fd_err[i] <= CHECK_FD_TOL) for i in eachindex(args)]
    push!(rows, CheckRow("all arguments", "dot product", dot_err, 0, dot_err <= CHECK_DOT_TOL))
    return CheckReport(f, rows)
end
