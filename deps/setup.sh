#!/usr/bin/env bash
# Installs what RadX needs on a Debian 12 machine that already has Rust.
# Idempotent: every step checks first, so a second run changes nothing and takes a second.
set -euo pipefail

need_pkgs=()
for pkg in llvm-16-dev clang-16 lld-16 libpolly-16-dev zlib1g-dev libzstd-dev libffi-dev libxml2-dev libomp-16-dev valgrind; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need_pkgs+=("$pkg")
  fi
done

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "deps/setup.sh: installing ${need_pkgs[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps/setup.sh: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi
