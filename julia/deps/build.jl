# Builds libradx for the running Julia and records where it is.
#
#     julia --project=julia julia/deps/build.jl        (or `Pkg.build("RadX")`)
#
# libradx must be linked against the LLVM of the running Julia (same major; the very same
# libLLVM file for the in-process door). The LLVM prefix (headers, llvm-config, libLLVM) is
# taken, in this order, from
#   1. ENV["RADX_LLVM_PREFIX"];
#   2. the LLVM_full_jll artifact matching Base.libllvm_version, when that package is
#      installed (it ships Julia's own libLLVM with headers: the in-process door opens);
#   3. `llvm-config-<major>` or `llvm-config` on PATH, if its version has the same major;
#   4. /usr/lib/llvm-<major> (Debian/Ubuntu packages).
# Then `cargo build --release -p radx-capi` runs in the RadX checkout with
# LLVM_SYS_<MAJOR>0_PREFIX set (and the cargo feature the versions table asks for), and the
# library's path is written to deps/libradx_path.txt, which RadX.jl reads at load time.

include(joinpath(@__DIR__, "..", "src", "versions.jl"))

const REPO = normpath(joinpath(@__DIR__, "..", ".."))
const JULIA_LLVM = Base.libllvm_version

function fail(msg)
    println(stderr, "RadX build: ", msg)
    exit(1)
end

function llvm_config_version(cfg)
    try
        return VersionNumber(strip(read(`$cfg --version`, String)))
    catch
        return nothing
    end
end

"""
    find_llvm_prefix() -> (prefix, how)

The LLVM installation to build against, and how it was found.
"""
function find_llvm_prefix()
    p = get(ENV, "RADX_LLVM_PREFIX", "")
    isempty(p) || return p, "RADX_LLVM_PREFIX"
    pkg = Base.identify_package("LLVM_full_jll")
    if pkg !== nothing
        jll = Base.require(pkg)
        dir = jll.artifact_dir
        v = llvm_config_version(joinpath(dir, "bin", "llvm-config"))
        if v !== nothing && v.major == JULIA_LLVM.major
            return dir, "LLVM_full_jll $(v) (Julia's own libLLVM)"
        end
        println(stderr, "RadX build: LLVM_full_jll is LLVM $v, Julia uses $JULIA_LLVM; not using it")
    end
    for cfg in ("llvm-config-$(JULIA_LLVM.major)", "llvm-config")
        exe = Sys.which(cfg)
        exe === nothing && continue
        v = llvm_config_version(exe)
        if v !== nothing && v.major == JULIA_LLVM.major
            return strip(read(`$exe --prefix`, String)), "$cfg ($v)"
        end
    end
    d = "/usr/lib/llvm-$(JULIA_LLVM.major)"
    isdir(d) && return d, d
    fail("no LLVM $(JULIA_LLVM.major) found: install LLVM_full_jll (`] add LLVM_full_jll@$(JULIA_LLVM)`), " *
         "llvm-$(JULIA_LLVM.major)-dev, or set RADX_LLVM_PREFIX")
end

function main()
    row = version_support()
    row === nothing && fail("Julia $VERSION is not in the supported-versions table (src/versions.jl); see docs/versions.md")
    println("RadX build: Julia $VERSION, LLVM $JULIA_LLVM: $(row.status)")
    println("  ", row.reason)
    row.status === :unsupported && fail("Julia $(VERSION.major).$(VERSION.minor) is not supported: $(row.reason)")
    features = String[]
    if row.cargo_feature !== nothing
        # The workspace pins LLVM 16 (inkwell's llvm16-0); other majors need their feature.
        push!(features, row.cargo_feature)
    end
    prefix, how = find_llvm_prefix()
    println("RadX build: LLVM from $how at $prefix")
    if !occursin("LLVM_full_jll", how)
        println("RadX build: note: this LLVM is not the libLLVM file Julia loads, so RadX.jl will use the " *
                "bitcode door (same LLVM major, a round trip per derivative) instead of the in-process one")
    end
    cargo = Sys.which("cargo")
    cargo === nothing && fail("cargo not found; install Rust (https://rustup.rs)")
    env = copy(ENV)
    env["LLVM_SYS_$(JULIA_LLVM.major)0_PREFIX"] = prefix
    cmd = `$cargo build --release -p radx-capi`
    isempty(features) || (cmd = `$cmd --features $(join(features, ","))`)
    println("RadX build: ", cmd)
    ok = success(pipeline(setenv(Cmd(cmd; dir=REPO), env); stdout, stderr))
    ok || fail("cargo build failed" * (isempty(features) ? "" : " (feature $(join(features, ",")) may not exist in this checkout yet)"))
    lib = joinpath(REPO, "target", "release", (Sys.iswindows() ? "" : "lib") * "radx." * Base.Libc.Libdl.dlext)
    isfile(lib) || fail("cargo succeeded but $lib is missing")
    open(joinpath(@__DIR__, "libradx_path.txt"), "w") do io
        println(io, lib)
    end
    println("RadX build: libradx at $lib (recorded in deps/libradx_path.txt)")
end

main()
