#!/usr/bin/env bash
# Kafka sink throughput next to the raw librdkafka ceiling, in one run on this machine.
# Builds bench/kafka (RelWithDebInfo, the project default: -O2; -DLDX_BUILD_BENCH=ON) and writes
# bench/results/kafka.md.
# Usage: scripts/bench-kafka.sh [--records N] [--rounds R]   (BUILD_DIR=... to choose the build dir)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench}
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDX_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD_DIR" -j2 kafka_bench
mkdir -p bench/results
"$BUILD_DIR/bin/kafka_bench" --out bench/results/kafka.md --command "scripts/bench-kafka.sh $*" "$@"
echo "wrote bench/results/kafka.md"
