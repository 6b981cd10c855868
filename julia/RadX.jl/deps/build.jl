# Builds the libradx for the running Julia's LLVM into deps/lib/libradx-llvm<major>.so,
# where RadX.jl's loader looks first.
#
#     julia --project=julia/RadX.jl julia/RadX.jl/deps/build.jl     (or `Pkg.build("RadX")`)
#
# Which LLVM: Base.libllvm_version's major, looked up in deps/versions.toml; where that LLVM
# is installed: see `find_llvm_prefix` in src/build.jl. A Julia RadX.jl does not support
# stops here with the reason.

using Libdl
include(joinpath(@__DIR__, "..", "src", "versions.jl"))
include(joinpath(@__DIR__, "..", "src", "build.jl"))

try
    choose_library()  # refuses unsupported Julia releases and LLVMs, with the reason
    build_libradx()
catch e
    e isa ErrorException || rethrow()
    println(stderr, e.msg)
    exit(1)
end
