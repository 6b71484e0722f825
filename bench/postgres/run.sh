#!/bin/sh
# One command: build the Postgres benchmark and write bench/results/postgres.md.
#   bench/postgres/run.sh [extra ldx_bench_postgres flags, e.g. --entries 20000]
# Build dir: $LDX_BENCH_BUILD_DIR (default: build/bench in the repository).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${LDX_BENCH_BUILD_DIR:-$repo/build/bench}
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDX_BUILD_BENCH=ON >/dev/null
ninja -C "$build" -j2 ldx_bench_postgres ld-simulator
mkdir -p "$repo/bench/results"
"$build/bench/postgres/ldx_bench_postgres" --simulator "$build/bin/ld-simulator" \
  --out "$repo/bench/results/postgres.md" --command "bench/postgres/run.sh $*" "$@"
