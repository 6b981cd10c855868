#!/usr/bin/env bash
# Builds radx and libradx for one LLVM major and puts them where RadX.jl's loader and the
# docs look: target/lib/libradx-llvm<N>.so and target/lib/radx-llvm<N>.
#
#     bash deps/build.sh                 # LLVM 16 (cargo's target/, as `cargo build --release`)
#     RADX_LLVM=19 bash deps/build.sh    # LLVM 19, in target/llvm19
#
# The LLVM is the one deps/setup.sh installs (RADX_LLVM=<N> bash deps/setup.sh), found by
# llvm-sys through .cargo/config.toml's LLVM_SYS_<N>_PREFIX; set that variable to build
# against another installation of the same major.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

major=${RADX_LLVM:-16}
case "$major" in
  15 | 19) target="target/llvm$major" ;;
  16) target="target" ;;
  *) echo "deps/build.sh: RADX_LLVM=$major: RadX builds on LLVM 15, 16 and 19 (see docs/versions.md)" >&2; exit 1 ;;
esac

cargo build --release --no-default-features --features "llvm$major" -p radx-cli -p radx-capi --target-dir "$target"
mkdir -p target/lib
cp "$target/release/libradx.so" "target/lib/libradx-llvm$major.so"
cp "$target/release/radx" "target/lib/radx-llvm$major"
echo "deps/build.sh: target/lib/libradx-llvm$major.so and target/lib/radx-llvm$major ($("target/lib/radx-llvm$major" --version))"
