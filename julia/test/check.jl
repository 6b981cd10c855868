# RadX.check on a correct derivative (every row passes) and on a function with a wrong
# custom rule (the check must catch it).


check_f(x, k) = sum(abs2, x) * sin(k) + x[1] * exp(-k)

r = RadX.check(check_f, [0.3, -1.2, 0.8], 0.5)
@test RadX.passed(r)
@test all(row -> row.max_rel_error < 1e-8, r.rows)
@test any(row -> row.check == "dot product", r.rows)
show(IOBuffer(), MIME"text/plain"(), r)

@noinline check_cube(x::Float64) = x^3
wrong_cube_fwd(x, dx) = (check_cube(x), 2x^2 * dx)     # should be 3x^2
@radx_rule check_cube(::Float64) forward = wrong_cube_fwd
check_g(x) = check_cube(x[1] + 1.0) * x[2]
bad = RadX.check(check_g, [0.4, 1.5])
# Reverse mode differentiates the body (right); the dot-product test against the wrong
# forward rule fails.
@test !RadX.passed(bad)
@test bad.rows[1].ok
@test !bad.rows[end].ok
clear_rules!()
