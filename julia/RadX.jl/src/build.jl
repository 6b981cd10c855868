# Building libradx for the running Julia: used by deps/build.jl (`Pkg.build("RadX")`) and by
# the loader when the library for Julia's LLVM is missing. Needs versions.jl.

"""
    radx_checkout(package = the package directory) -> Union{String,Nothing}

The RadX checkout this package sits in (`<checkout>/julia/RadX.jl`), or `nothing` when the
package was installed without it.
"""
function radx_checkout(package::AbstractString=normpath(joinpath(@__DIR__, "..")))
    root = normpath(joinpath(package, "..", ".."))
    return isfile(joinpath(root, "Cargo.toml")) && isdir(joinpath(root, "rust", "radx-capi")) ? root : nothing
end

function llvm_config_version(cfg)
    try
        return VersionNumber(strip(read(`$cfg --version`, String)))
    catch
        return nothing
    end
end

"""
    find_llvm_prefix(llvm = Base.libllvm_version) -> (prefix, how)

The LLVM installation to build against, and how it was found, in this order:
`ENV["RADX_LLVM_PREFIX"]`; the `LLVM_full_jll` artifact of the same major, when that package
is installed (Julia's own libLLVM, with headers: the in-process door opens);
`llvm-config-<major>` or `llvm-config` on PATH, if of the same major; `/usr/lib/llvm-<major>`
(Debian's packages: `RADX_LLVM=<major> deps/setup.sh` installs them).
"""
function find_llvm_prefix(llvm::VersionNumber=Base.libllvm_version)
    p = get(ENV, "RADX_LLVM_PREFIX", "")
    isempty(p) || return p, "RADX_LLVM_PREFIX"
    pkg = Base.identify_package("LLVM_full_jll")
    if pkg !== nothing
        jll = Base.require(pkg)
        dir = jll.artifact_dir
        v = llvm_config_version(joinpath(dir, "bin", "llvm-config"))
        v !== nothing && v.major == llvm.major && return dir, "LLVM_full_jll $(v) (Julia's own libLLVM)"
        @warn "RadX build: LLVM_full_jll is LLVM $v, Julia uses $llvm; not using it"
    end
    for cfg in ("llvm-config-$(llvm.major)", "llvm-config")
        exe = Sys.which(cfg)
        exe === nothing && continue
        v = llvm_config_version(exe)
        v !== nothing && v.major == llvm.major && return String(strip(read(`$exe --prefix`, String))), "$cfg ($v)"
    end
    d = "/usr/lib/llvm-$(llvm.major)"
    isdir(d) && return d, d
    error("RadX build: no LLVM $(llvm.major) found: install LLVM_full_jll (`] add LLVM_full_jll@$(llvm)`), " *
          "Debian's llvm-$(llvm.major)-dev (`RADX_LLVM=$(llvm.major) deps/setup.sh`), or set RADX_LLVM_PREFIX")
end

"""
    build_libradx(llvm = Base.libllvm_version; dest = deps/lib, io = stdout) -> String

Builds the libradx for `llvm`'s major with cargo in the RadX checkout (its own target
directory per major) and copies it to `dest` as `libradx-llvm<major>.so`. Returns the path.
"""
function build_libradx(llvm::VersionNumber=Base.libllvm_version; dest::AbstractString=first(library_dirs()), io::IO=stdout)
    build = llvm_build(llvm)
    build === nothing && error("RadX build: libradx does not build on LLVM $(llvm.major). " * supported_summary() * ".")
    root = radx_checkout()
    root === nothing && error("RadX build: this copy of RadX.jl is not inside a RadX checkout (no Cargo.toml two levels up), " *
                              "so libradx cannot be built here; set ENV[\"RADX_LIB\"] to a $(library_file(build)) built elsewhere")
    prefix, how = find_llvm_prefix(llvm)
    println(io, "RadX build: LLVM $(llvm) from $how at $prefix")
    if !occursin("LLVM_full_jll", how)
        println(io, "RadX build: note: this LLVM is not the libLLVM file Julia loads, so RadX.jl will use the " *
                    "bitcode door (a round trip per derivative) instead of the in-process one")
    end
    cargo = Sys.which("cargo")
    cargo === nothing && error("RadX build: cargo not found; install Rust (https://rustup.rs)")
    env = copy(ENV)
    env[build.prefix_variable] = prefix
    target = joinpath(root, build.target_dir)
    cmd = `$cargo build --release -p radx-capi --no-default-features --features $(build.feature) --target-dir $target`
    println(io, "RadX build: ", cmd)
    success(pipeline(setenv(Cmd(cmd; dir=root), env); stdout=io, stderr=io)) || error("RadX build: cargo build failed (see above)")
    built = joinpath(target, "release", "libradx." * Libdl.dlext)
    isfile(built) || error("RadX build: cargo succeeded but $built is missing")
    mkpath(dest)
    out = joinpath(dest, library_file(build))
    cp(built, out; force=true)
    println(io, "RadX build: $(library_file(build)) at $out")
    return out
end
