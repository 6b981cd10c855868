#!/usr/bin/env bash
# Installs what RadX needs on a Debian 12 machine that already has Rust: the LLVM, clang and
# lld of each LLVM major asked for, and the tools the tests use.
#
#     bash deps/setup.sh                  # LLVM 16, the default build
#     RADX_LLVM=19 bash deps/setup.sh     # LLVM 19 (RADX_LLVM="16 15 19": several)
#
# Debian installs one LLVM OpenMP (libomp-N-dev) at a time: it is the first major's, and
# asking for another major first replaces it (deps/test.sh does so around each extra build).
#
# Idempotent: every step checks first, so a second run changes nothing and takes a second.
set -euo pipefail

majors=${RADX_LLVM:-16}
common_pkgs=(zlib1g-dev libzstd-dev libffi-dev libxml2-dev valgrind libopenblas-dev)

# The packages of one LLVM major. Debian has no libpolly-15-dev; llvm-sys only wants Polly
# for static linking, and RadX links libLLVM dynamically, so 15 goes without.
llvm_pkgs() {
  case "$1" in
    15) echo "llvm-15-dev clang-15 lld-15" ;;
    16) echo "llvm-16-dev clang-16 lld-16 libpolly-16-dev" ;;
    19) echo "llvm-19-dev clang-19 lld-19 libpolly-19-dev" ;;
    *) echo "deps/setup.sh: RADX_LLVM=$1: RadX builds on LLVM 15, 16 and 19 (see docs/versions.md)" >&2; return 1 ;;
  esac
}

missing() {
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      echo "$pkg"
    fi
  done
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
updated=0
install() {
  [ $# -gt 0 ] || return 0
  echo "deps/setup.sh: installing $*" >&2
  if [ $updated -eq 0 ]; then
    $SUDO apt-get update -qq
    updated=1
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# One apt transaction per major: apt's resolver cannot place two majors' libomp and polly
# packages in one go, though each installs on top of the other.
for major in $majors; do
  pkgs=$(llvm_pkgs "$major")
  # shellcheck disable=SC2086
  install $(missing $pkgs)
done
first=${majors%% *}
install $(missing "libomp-$first-dev")
install $(missing "${common_pkgs[@]}")

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps/setup.sh: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi
