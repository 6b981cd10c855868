# Supported Julia / LLVM versions. Kept in one table, read by `deps/build.jl` (to pick the
# cargo features) and at load time (to refuse a mismatched library with a clear message).
# docs/versions.md explains each row.

"""
    VersionSupport

One row of [`SUPPORTED_VERSIONS`](@ref): a Julia minor version, the LLVM it bundles, whether
RadX supports it, the cargo feature that builds libradx for it (`nothing`: the default
build), and why.
"""
struct VersionSupport
    julia::VersionNumber
    llvm::VersionNumber
    status::Symbol          # :supported, :feature_flag, :unsupported
    cargo_feature::Union{Nothing,String}
    reason::String
end

"""
    SUPPORTED_VERSIONS

The Julia releases RadX knows about, with the LLVM each bundles and the state of support.
libradx must be built against the same LLVM major as the running Julia (a module in memory
has no stable layout across LLVM versions, and an older LLVM cannot read newer bitcode).
"""
const SUPPORTED_VERSIONS = [
    VersionSupport(v"1.10", v"15.0.7", :unsupported, "llvm15-0",
        "Julia 1.10 creates its LLVM contexts with typed pointers; the engine works on " *
        "opaque-pointer IR. Unsupported unless libradx is built with the llvm15-0 feature " *
        "(which is not in this checkout yet)."),
    VersionSupport(v"1.11", v"16.0.6", :supported, nothing,
        "LLVM 16 with opaque pointers, the version RadX is developed and tested against; the " *
        "in-process door is open when libradx links Julia's own libLLVM (LLVM_full_jll)."),
    VersionSupport(v"1.12", v"18.1.7", :feature_flag, "llvm18-0",
        "LLVM 18: libradx must be built with the llvm18-0 cargo feature (inkwell/llvm-sys " *
        "for LLVM 18). `Ptr{T}` is a real pointer in 1.12 IR, which the engine handles."),
    VersionSupport(v"1.13", v"20.1.0", :unsupported, "llvm20-1",
        "LLVM 20 is not wired into the build yet; NVPTX ldg intrinsics changed."),
]

"""
    version_support(julia_version = VERSION) -> Union{VersionSupport,Nothing}

The row of [`SUPPORTED_VERSIONS`](@ref) for a Julia version (by major.minor), or `nothing`
for a release RadX does not know.
"""
function version_support(v::VersionNumber=VERSION)
    for row in SUPPORTED_VERSIONS
        if row.julia.major == v.major && row.julia.minor == v.minor
            return row
        end
    end
    return nothing
end
