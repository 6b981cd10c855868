#!/usr/bin/env bash
# Every test: set up the machine, build RadX, run all Rust tests, the Enzyme-convention
# conformance suite (../shared/conformance, when it is there), a parse of every Julia file
# with tree-sitter's Julia grammar (always; it installs itself into target/julia-syntax),
# the Julia loader's choice of library and the Julia tests (when julia is there) — on
# LLVM 16, the default build. Then the builds on LLVM 15 and 19, each in its own target
# directory: their Rust tests and the conformance suite at -O0 and -O2. Exits non-zero if
# anything fails; every stage runs even after an earlier one failed, and a summary closes
# the output.
#
#     bash deps/test.sh
set -uo pipefail

# Conformance groups RadX is expected to pass (comma separated, as run.sh --only takes
# them): all of them.
CONFORMANCE_GROUPS=reverse,forward,loops,memory,calls,control,split,higher,openmp
# Optimisation levels the suite is run at.
CONFORMANCE_OPTS="-O0 -O1 -O2 -O3"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

failed=()
summary=()
stage() { # stage NAME COMMAND... : runs one stage and records how it went
  local name=$1
  shift
  echo
  echo "== $name: $*"
  if "$@"; then
    summary+=("ok       $name")
  else
    summary+=("FAILED   $name")
    failed+=("$name")
  fi
}
skip() {
  echo
  echo "== $1: $2"
  summary+=("skipped  $1 ($2)")
}

# LLVM majors built and tested besides the default 16 (RADX_EXTRA_LLVMS="" skips them).
EXTRA_LLVMS=${RADX_EXTRA_LLVMS-15 19}
# Every LLVM's clang is installed, so the tests that read other LLVMs' bitcode must not skip.
export RADX_REQUIRE_LLVMS=1
[ -n "$EXTRA_LLVMS" ] || unset RADX_REQUIRE_LLVMS

# Without the machine set up and radx built nothing else can run.
echo "== deps/setup.sh (LLVM 16 $EXTRA_LLVMS)"
RADX_LLVM="16 $EXTRA_LLVMS" bash deps/setup.sh || { echo "deps/test.sh: deps/setup.sh failed" >&2; exit 1; }
echo "== deps/build.sh (LLVM 16)"
bash deps/build.sh || { echo "deps/test.sh: deps/build.sh failed" >&2; exit 1; }

stage "rust tests" cargo test --release --workspace

SUITE="$ROOT/../shared/conformance"
if [ -x "$SUITE/run.sh" ]; then
  stage "conformance ($CONFORMANCE_GROUPS)" \
    "$SUITE/run.sh" --opt "$CONFORMANCE_OPTS" --only "$CONFORMANCE_GROUPS" -- "$ROOT/target/release/radx" cc
  # Each reverse-mode tape optimization switched off in turn must give the same results:
  # the paths it normally hides get exercised (this found a real bug once).
  stage "conformance, reverse mode, each tape optimization off (-O2)" bash -c '
    for opt in inline induction exit-value forward-stores joins hoist merge-caches flow recompute redundant stack-slots reserve tape-reuse alias-scopes min-cut dead-adjoints merge-shadows scalar-shifted-updates aligned-shifted-updates reassoc-sums cancel-factors vectorizer-marks; do
      echo "-- RADX_DISABLE=$opt"
      RADX_DISABLE=$opt "$0/run.sh" --opt -O2 --only reverse,loops,memory,calls,control,split,higher,openmp -- "$1" cc | tail -n 1
      [ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
    done' "$SUITE" "$ROOT/target/release/radx"
else
  skip "conformance" "no conformance suite at $SUITE: skipped"
fi

# Julia is not installable everywhere, but every .jl file is always parsed with a real Julia
# grammar; --self-test first proves the checker rejects a broken file.
# Every benchmark at small sizes: each gradient is checked against finite differences and
# forward mode before it is timed (the timings themselves are not judged here).
stage "benchmarks (quick, gradients checked)" python3 benches/run.py --quick --out "$ROOT/target/bench-quick"

stage "julia syntax (tree-sitter)" python3 deps/check_julia_syntax.py --self-test julia

if ! command -v julia >/dev/null 2>&1; then
  skip "julia tests" "julia not found: skipped the Julia tests"
else
  # The loader finds target/lib/libradx-llvm<major>.so (deps/build.sh) or builds it.
  stage "julia tests" julia --project="$ROOT/julia/RadX.jl" -e 'using Pkg; Pkg.instantiate(); Pkg.test()'
fi

# The other LLVMs. Debian installs one LLVM OpenMP at a time: each build's stage puts its
# own in place (the OpenMP tests need it), and the default's comes back at the end.
for major in $EXTRA_LLVMS; do
  stage "LLVM $major: set up and build" bash -c "RADX_LLVM=$major bash deps/setup.sh && RADX_LLVM=$major bash deps/build.sh"
  stage "LLVM $major: rust tests" cargo test --release --workspace --no-default-features --features "llvm$major" --target-dir "target/llvm$major"
  if [ -x "$SUITE/run.sh" ]; then
    stage "LLVM $major: conformance ($CONFORMANCE_GROUPS, -O0 -O2)" \
      "$SUITE/run.sh" --opt "-O0 -O2" --only "$CONFORMANCE_GROUPS" -- "$ROOT/target/lib/radx-llvm$major" cc
  fi
done
[ -z "$EXTRA_LLVMS" ] || stage "LLVM 16's OpenMP back in place" bash deps/setup.sh

# Which libradx RadX.jl's loader picks for each Julia and LLVM, and that the libraries
# built above report the LLVM they were chosen for.
stage "julia loader's choice of libradx" python3 julia/test/loader_choice.py

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "deps/test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "deps/test.sh: all passed"
