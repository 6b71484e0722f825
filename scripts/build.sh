#!/usr/bin/env bash
# Configures and builds ldexport into build/<name> (default: build/release).
# Usage: [LDX_BUILD_TARGETS="t1 t2"] scripts/build.sh [name] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-release}"
shift || true
cmake -S . -B "build/$name" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# LDX_BUILD_TARGETS: build only these targets (default: all).
# shellcheck disable=SC2086
ninja -C "build/$name" -j "$(nproc)" ${LDX_BUILD_TARGETS:-}
