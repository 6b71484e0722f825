#!/usr/bin/env bash
# Every benchmark, one command: builds what they need into build/bench (RelWithDebInfo, the
# project default -O2, -DLDX_BUILD_BENCH=ON, under nice), then runs
#   bench/file       the archive: pipeline vs write()+fdatasync() of the same bytes
#   bench/kafka      Kafka: pipeline vs a bare librdkafka producer (mock cluster)
#   bench/postgres   Postgres: pipeline vs `psql \copy` (throw-away cluster)
#   bench/all_sinks  the three sinks at once vs the three ceilings at once
#   bench/resources  the real `ldexport once` against ld-simulator: peak RSS at 250k, 500k
#                    and 1M contexts, CPU s per million records, API requests per 1000
# and writes bench/results/<name>.md (+ .json), then regenerates docs/BENCHMARKS.md
# (bench/report.py). About 10 minutes on 2 cores. Speed is never asserted anywhere.
# Usage: scripts/bench.sh [--quick]   (--quick: small data, to try the harness; BUILD_DIR=...)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/bench}
RESULTS=bench/results
QUICK=${1:-}

# Postgres, kcat and the rest come with the test packages (a fresh machine has none).
bash scripts/install-deps.sh

ENTRIES=60000 PG_ENTRIES=30000 REPEATS=3 SIZES=250000,500000,1000000 AUDIT=200000
if [ "$QUICK" = "--quick" ]; then
  ENTRIES=4000 PG_ENTRIES=2000 REPEATS=1 SIZES=20000,40000 AUDIT=10000
fi

mkdir -p "$RESULTS"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# What the binaries are built from (other work may commit while the benchmarks run).
SOURCE_COMMIT=$(git rev-parse --short HEAD)
SOURCE_DIRTY=$(git status --porcelain --untracked-files=no | cut -c4- | grep -v -e '^bench/results/' \
  -e '^docs/BENCHMARKS.md' | paste -sd, - || true)
STARTED=$(date -u +%FT%TZ)
nice -n 5 cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDX_BUILD_BENCH=ON \
  -DLDX_BUILD_TESTS=OFF >/dev/null
nice -n 5 ninja -C "$BUILD_DIR" -j2 ldexport ld-simulator ldx_bench_file kafka_bench ldx_bench_postgres \
  ldx_bench_all_sinks

B=${BUILD_DIR#"$ROOT"/}  # shown relative to the repository in the results
SIM=$B/bin/ld-simulator
: >"$RESULTS/commands.txt"
run() {  # run NAME COMMAND...: runs it with --out/--json into bench/results and records the command
  local name=$1
  shift
  echo "$*" >>"$RESULTS/commands.txt"
  echo "== $name: $*" >&2
  "$@" --out "$RESULTS/$name.md" --json "$RESULTS/$name.json" --command "$*"
}
run file "$B/bench/file/ldx_bench_file" --simulator "$SIM" --entries "$ENTRIES" --repeats "$REPEATS"
run kafka "$B/bin/kafka_bench" --records "$ENTRIES" --rounds "$REPEATS"
run postgres "$B/bench/postgres/ldx_bench_postgres" --simulator "$SIM" --entries "$PG_ENTRIES" --repeats "$REPEATS"
run all_sinks "$B/bench/all_sinks/ldx_bench_all_sinks" --simulator "$SIM" --entries "$ENTRIES" --repeats "$REPEATS"
run resources python3 bench/resources/run.py --ldexport "$B/bin/ldexport" --simulator "$SIM" --sizes "$SIZES" \
  --audit-entries "$AUDIT"

python3 bench/report.py --results "$RESULTS" --out docs/BENCHMARKS.md --started "$STARTED" \
  --load-start "$LOAD_START" --source-commit "$SOURCE_COMMIT" --source-dirty "$SOURCE_DIRTY" --command "scripts/bench.sh${QUICK:+ $QUICK}"
echo "wrote $RESULTS/*.md and docs/BENCHMARKS.md" >&2
