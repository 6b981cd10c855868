# Which libradx a Julia needs: deps/versions.toml, read here by the loader and by
# deps/build.jl. julia/test/loader_choice.py checks the same choice without Julia.

import TOML

const VERSIONS_TABLE = joinpath(@__DIR__, "..", "deps", "versions.toml")
include_dependency(VERSIONS_TABLE)

"""
    LLVMBuild

One LLVM major RadX builds on: the library it makes (`libradx-llvm16`), the cargo feature
that selects it, the variable that tells llvm-sys where that LLVM is, cargo's target
directory for it (relative to the checkout), and what was tested on it.
"""
struct LLVMBuild
    major::Int
    library::String
    feature::String
    prefix_variable::String
    target_dir::String
    tested::String
end

"""
    VersionSupport

One Julia release RadX knows: the LLVM it bundles, `:supported` or `:unsupported`, and why.
"""
struct VersionSupport
    julia::VersionNumber
    llvm::VersionNumber
    status::Symbol
    reason::String
end

function read_versions_table(path=VERSIONS_TABLE)
    t = TOML.parsefile(path)
    builds = [LLVMBuild(r["major"], r["library"], r["feature"], r["prefix_variable"], r["target_dir"], r["tested"]) for r in t["llvm"]]
    releases = [VersionSupport(VersionNumber(r["version"]), VersionNumber(r["llvm"]), Symbol(r["status"]), r["reason"]) for r in t["julia"]]
    return builds, releases
end

const LLVM_BUILDS, SUPPORTED_VERSIONS = read_versions_table()

"""
    version_support(julia_version = VERSION) -> Union{VersionSupport,Nothing}

The row for a Julia release (by major.minor), or `nothing` for one RadX does not know.
"""
function version_support(v::VersionNumber=VERSION)
    i = findfirst(r -> r.julia.major == v.major && r.julia.minor == v.minor, SUPPORTED_VERSIONS)
    return i === nothing ? nothing : SUPPORTED_VERSIONS[i]
end

"""
    llvm_build(llvm_version) -> Union{LLVMBuild,Nothing}

The libradx build for an LLVM (by major), or `nothing` when RadX does not build on it.
"""
function llvm_build(v::VersionNumber)
    i = findfirst(b -> b.major == v.major, LLVM_BUILDS)
    return i === nothing ? nothing : LLVM_BUILDS[i]
end

library_file(b::LLVMBuild) = b.library * "." * Libdl.dlext

"""
    supported_summary() -> String

Which Julia releases RadX.jl works on, and the LLVMs it builds on, for messages.
"""
function supported_summary()
    ok = [string(r.julia.major, ".", r.julia.minor, " (LLVM ", r.llvm.major, ")") for r in SUPPORTED_VERSIONS if r.status === :supported]
    majors = join([string(b.major) for b in LLVM_BUILDS], ", ")
    return "RadX.jl supports Julia " * join(ok, ", ") * "; libradx builds on LLVM " * majors * " (docs/versions.md)"
end

"""
    LibraryChoice

What the loader decided for a Julia: the build for its LLVM, the candidate paths in the
order they are tried, and the first that exists (`nothing`: it has to be built).
"""
struct LibraryChoice
    build::LLVMBuild
    candidates::Vector{String}
    found::Union{String,Nothing}
end

"""
    library_dirs(; package=pkgdir_of_this_file()) -> Vector{String}

Where built libraries are looked for: the package's `deps/lib` (what deps/build.jl makes),
then the RadX checkout's `target/lib` (what `deps/build.sh` makes).
"""
function library_dirs(package::AbstractString=normpath(joinpath(@__DIR__, "..")))
    return [joinpath(package, "deps", "lib"), normpath(joinpath(package, "..", "..", "target", "lib"))]
end

"""
    choose_library(llvm_version = Base.libllvm_version; julia = VERSION, env = ENV,
                   dirs = library_dirs()) -> LibraryChoice

The libradx for a Julia on `llvm_version`: `ENV["RADX_LIB"]` when set, else
`libradx-llvm<major>` in `dirs`. Throws an `ErrorException` that names the supported Julia
releases when RadX does not build on that LLVM, or when the Julia release is one RadX.jl
cannot work with although its LLVM builds (1.10's typed pointers).
"""
function choose_library(llvm_version::VersionNumber=Base.libllvm_version; julia::VersionNumber=VERSION,
                        env=ENV, dirs::Vector{String}=library_dirs())
    row = version_support(julia)
    build = llvm_build(llvm_version)
    if build === nothing
        why = row === nothing ? "" : "\n  " * row.reason
        error("RadX: Julia $julia uses LLVM $llvm_version, and libradx does not build on LLVM $(llvm_version.major). " *
              supported_summary() * "." * why)
    end
    if row !== nothing && row.status === :unsupported
        error("RadX: Julia $(julia.major).$(julia.minor) is not supported: $(row.reason)\n  " * supported_summary() * ".")
    end
    override = get(env, "RADX_LIB", "")
    candidates = isempty(override) ? [joinpath(d, library_file(build)) for d in dirs] : [String(override)]
    i = findfirst(isfile, candidates)
    return LibraryChoice(build, candidates, i === nothing ? nothing : candidates[i])
end
