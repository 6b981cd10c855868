#!/usr/bin/env bash
# The main job: set up the machine, build RadX, compile the forward- and reverse-mode examples with
# `radx cc -O2` and run them. The examples print each derivative beside a central finite
# difference; this script exits non-zero if any step fails or any derivative disagrees.
#
#     bash deps/demo.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

echo "== deps/setup.sh"
bash deps/setup.sh

echo "== cargo build --release"
cargo build --release

OUT="$ROOT/target/demo"
mkdir -p "$OUT"
echo "== target/release/radx cc -O2 examples/forward_demo.c -lm -o target/demo/forward_demo"
target/release/radx cc -O2 examples/forward_demo.c -lm -o "$OUT/forward_demo"

echo "== target/demo/forward_demo"
"$OUT/forward_demo"

echo
echo "== target/release/radx cc -O2 examples/reverse_demo.c -lm -o target/demo/reverse_demo"
target/release/radx cc -O2 examples/reverse_demo.c -lm -o "$OUT/reverse_demo"

echo "== target/demo/reverse_demo"
"$OUT/reverse_demo"
