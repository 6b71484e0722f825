#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a fixed number of
# iterations on a corpus seeded from tests/fuzz/seeds, config/*.yaml and, when present,
# ../shared/launchdarkly/fixtures. Any crash, leak or timeout fails the run; the input
# that caused it is kept under build/fuzz-artifacts/ for a regression test.
# Usage: scripts/fuzz.sh [runs per target, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20000}"
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLDX_FUZZ=ON >/dev/null
ninja -C build/fuzz -j "$(nproc)" fuzz_targets
art=build/fuzz-artifacts
mkdir -p "$art"
for target in fuzz_audit_normalizer fuzz_config fuzz_rate_limit; do
  corpus=$(mktemp -d)
  case "$target" in
    fuzz_audit_normalizer)
      cp tests/fuzz/seeds/audit/* "$corpus"/
      if [ -d ../shared/launchdarkly/fixtures ]; then cp ../shared/launchdarkly/fixtures/*.json "$corpus"/;
      else echo "fuzz: ../shared not found: spec fixtures not used as seeds"; fi ;;
    fuzz_config) cp config/*.yaml "$corpus"/ ;;
    fuzz_rate_limit) cp tests/fuzz/seeds/rate_limit/* "$corpus"/ ;;
  esac
  echo "== $target: $runs runs"
  ASAN_OPTIONS=detect_leaks=1 "build/fuzz/fuzz/$target" -runs="$runs" -max_len=16384 -timeout=10 \
    -artifact_prefix="$art/$target-" "$corpus" 2>&1 | tail -n 3
  rm -rf "$corpus"
done
echo "fuzz: no crash, leak or timeout"
