#!/usr/bin/env python3
"""RadX.jl's choice of libradx, checked without Julia.

The loader (julia/RadX.jl/src/versions.jl, `choose_library`) keys on the major of
`Base.libllvm_version`: it looks the major up in julia/RadX.jl/deps/versions.toml, refuses
Julia releases and LLVMs the table marks unsupported (naming the supported ones), and else
takes `ENV["RADX_LIB"]` or the first `libradx-llvm<major>.so` in deps/lib, target/lib. This
script applies the same rule to the same table for mimicked Julia / LLVM versions, checks the
table against the Rust build (features, llvm-sys variables, SUPPORTED_MAJORS), and loads
each library it chooses that is built (deps/build.sh) to ask it which LLVM it is for
(`radx_llvm_version`), which must be the mimicked major.

    python3 julia/test/loader_choice.py
"""
import ctypes
import os
import re
import sys
import tempfile
import tomllib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PACKAGE = os.path.join(ROOT, "julia", "RadX.jl")
TABLE = os.path.join(PACKAGE, "deps", "versions.toml")


class Refused(Exception):
    pass


def load_table():
    with open(TABLE, "rb") as f:
        t = tomllib.load(f)
    return t["llvm"], t["julia"]


def parse_version(text):
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def supported_summary(builds, releases):
    ok = [f'{r["version"]} (LLVM {parse_version(r["llvm"])[0]})' for r in releases if r["status"] == "supported"]
    return "RadX.jl supports Julia " + ", ".join(ok) + "; libradx builds on LLVM " + ", ".join(str(b["major"]) for b in builds)


def choose_library(libllvm_version, julia_version, env, dirs, table):
    """`choose_library` of versions.jl: (build row, candidates, found or None)."""
    builds, releases = table
    major = parse_version(libllvm_version)[0]
    jv = parse_version(julia_version)
    row = next((r for r in releases if parse_version(r["version"])[:2] == jv[:2]), None)
    build = next((b for b in builds if b["major"] == major), None)
    if build is None:
        raise Refused(f"Julia {julia_version} uses LLVM {libllvm_version}, and libradx does not build on LLVM {major}. "
                      + supported_summary(builds, releases) + ("\n  " + row["reason"] if row else ""))
    if row is not None and row["status"] == "unsupported":
        raise Refused(f"Julia {jv[0]}.{jv[1]} is not supported: {row['reason']}\n  " + supported_summary(builds, releases))
    lib = build["library"] + ".so"
    override = env.get("RADX_LIB", "")
    candidates = [override] if override else [os.path.join(d, lib) for d in dirs]
    found = next((c for c in candidates if os.path.isfile(c)), None)
    return build, candidates, found


def check(cond, what):
    if not cond:
        print(f"loader_choice.py: FAILED: {what}")
        sys.exit(1)


def table_matches_the_rust_build(table):
    builds, releases = table
    llvm_rs = open(os.path.join(ROOT, "rust", "radx-core", "src", "ir", "llvm.rs")).read()
    majors = [int(m) for m in re.search(r"SUPPORTED_MAJORS: &\[u32\] = &\[([^\]]*)\]", llvm_rs).group(1).split(",")]
    check([b["major"] for b in builds] == majors, f"versions.toml's LLVMs {[b['major'] for b in builds]} are ir/llvm.rs's SUPPORTED_MAJORS {majors}")
    capi = open(os.path.join(ROOT, "rust", "radx-capi", "Cargo.toml")).read()
    cargo_config = open(os.path.join(ROOT, ".cargo", "config.toml")).read()
    build_sh = open(os.path.join(ROOT, "deps", "build.sh")).read()
    for b in builds:
        check(b["library"] == f"libradx-llvm{b['major']}", f"{b['library']} names its major")
        check(re.search(rf"^{b['feature']} = ", capi, re.M), f"radx-capi has the feature {b['feature']}")
        check(b["prefix_variable"] in cargo_config, f"{b['prefix_variable']} is set in .cargo/config.toml")
        expected_dir = "target" if b["major"] == 16 else "target/llvm$major"
        check(b["target_dir"] == expected_dir.replace("$major", str(b["major"])) and expected_dir in build_sh, f"deps/build.sh builds LLVM {b['major']} into {b['target_dir']}")
    for r in releases:
        check(r["status"] in ("supported", "unsupported") and r["reason"], f"Julia {r['version']} has a status and a reason")
        if r["status"] == "supported":
            check(any(b["major"] == parse_version(r["llvm"])[0] for b in builds), f"supported Julia {r['version']} has a libradx")


def choices(table):
    with tempfile.TemporaryDirectory() as tmp:
        deps_lib, target_lib = os.path.join(tmp, "deps", "lib"), os.path.join(tmp, "target", "lib")
        os.makedirs(deps_lib)
        os.makedirs(target_lib)
        dirs = [deps_lib, target_lib]
        # Julia 1.11 on LLVM 16: libradx-llvm16, first where deps/build.jl puts it.
        build, cands, found = choose_library("16.0.6", "1.11.2", {}, dirs, table)
        check(build["major"] == 16 and cands == [os.path.join(d, "libradx-llvm16.so") for d in dirs] and found is None, "1.11 wants libradx-llvm16, not built yet")
        open(os.path.join(target_lib, "libradx-llvm16.so"), "w").close()
        check(choose_library("16.0.6", "1.11.2", {}, dirs, table)[2] == os.path.join(target_lib, "libradx-llvm16.so"), "1.11 finds the checkout's build")
        open(os.path.join(deps_lib, "libradx-llvm16.so"), "w").close()
        check(choose_library("16.0.6", "1.11.2", {}, dirs, table)[2] == os.path.join(deps_lib, "libradx-llvm16.so"), "the package's own build comes first")
        # RADX_LIB overrides the search.
        check(choose_library("16.0.6", "1.11.2", {"RADX_LIB": "/x/libradx.so"}, dirs, table)[1] == ["/x/libradx.so"], "RADX_LIB is the only candidate")
        # A Julia built on LLVM 19 (a development build) gets libradx-llvm19, whatever its version.
        check(choose_library("19.1.7", "1.14.0-DEV", {}, dirs, table)[0]["library"] == "libradx-llvm19", "LLVM 19 -> libradx-llvm19")
        # Refusals name the reason and what is supported.
        for llvm, julia, says in [("15.0.7", "1.10.4", "typed pointers"), ("18.1.7", "1.12.0", "LLVM 18"), ("20.1.2", "1.13.0", "LLVM 20")]:
            try:
                choose_library(llvm, julia, {}, dirs, table)
                check(False, f"Julia {julia} on LLVM {llvm} is refused")
            except Refused as e:
                msg = str(e)
                check(says in msg and "supports Julia 1.11 (LLVM 16)" in msg and "15, 16, 19" in msg, f"Julia {julia}'s refusal explains itself: {msg}")
                print(f"  Julia {julia} / LLVM {llvm}: refused: {msg.splitlines()[0][:110]}...")
        print("  Julia 1.11 / LLVM 16.0.6: libradx-llvm16 (deps/lib, then target/lib); LLVM 19: libradx-llvm19")


def built_libraries_report_their_llvm(table):
    builds, _ = table
    loaded = 0
    for b in builds:
        _, _, found = choose_library(f"{b['major']}.0.0", "1.11.0" if b["major"] == 16 else "1.99.0", {}, [os.path.join(PACKAGE, "deps", "lib"), os.path.join(ROOT, "target", "lib")], table)
        if found is None:
            print(f"  {b['library']}: not built here (RADX_LLVM={b['major']} deps/build.sh): not loaded")
            continue
        lib = ctypes.CDLL(found, mode=os.RTLD_LOCAL)
        a, m, p = ctypes.c_uint32(), ctypes.c_uint32(), ctypes.c_uint32()
        lib.radx_llvm_version(ctypes.byref(a), ctypes.byref(m), ctypes.byref(p))
        check(a.value == b["major"], f"{found} reports LLVM {a.value}.{m.value}.{p.value}, chosen for LLVM {b['major']}")
        print(f"  {found}: radx_llvm_version = {a.value}.{m.value}.{p.value}")
        loaded += 1
    return loaded


def main():
    table = load_table()
    table_matches_the_rust_build(table)
    choices(table)
    loaded = built_libraries_report_their_llvm(table)
    print(f"loader_choice.py: ok ({loaded} built libraries loaded)")


if __name__ == "__main__":
    main()
