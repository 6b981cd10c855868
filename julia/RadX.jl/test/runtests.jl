# `Pkg.test("RadX")` runs this file; the tests live beside the package, in the checkout's
# julia/test (docs/julia.md).
const RADX_TESTS = normpath(joinpath(@__DIR__, "..", "..", "test", "runtests.jl"))
isfile(RADX_TESTS) || error("RadX.jl's tests are in the RadX repository's julia/test, not found at $RADX_TESTS; run them from a checkout")
include(RADX_TESTS)
