#!/usr/bin/env bash
# Every test: set up the machine, build RadX, run all Rust tests, the Enzyme-convention
# conformance suite (../shared/conformance, when it is there), a parse of every Julia file
# with tree-sitter's Julia grammar (always; it installs itself into target/julia-syntax) and
# the Julia tests (when julia and julia/ are there). Exits non-zero if anything fails;
# every stage runs even after an earlier one failed, and a summary closes the output.
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

# Without the machine set up and radx built nothing else can run.
echo "== deps/setup.sh"
bash deps/setup.sh || { echo "deps/test.sh: deps/setup.sh failed" >&2; exit 1; }
echo "== cargo build --release"
cargo build --release || { echo "deps/test.sh: cargo build --release failed" >&2; exit 1; }

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

if [ -d "$ROOT/julia" ]; then
  stage "julia syntax (tree-sitter)" python3 deps/check_julia_syntax.py --self-test julia
else
  skip "julia syntax" "no julia/ directory: skipped"
fi

if ! command -v julia >/dev/null 2>&1; then
  skip "julia tests" "julia not found: skipped the Julia tests"
elif [ ! -d "$ROOT/julia" ]; then
  skip "julia tests" "no julia/ directory yet: skipped the Julia tests"
else
  stage "julia tests" env RADX_LIB="$ROOT/target/release/libradx.so" \
    julia --project="$ROOT/julia" -e 'using Pkg; Pkg.instantiate(); Pkg.test()'
fi

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "deps/test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "deps/test.sh: all passed"
