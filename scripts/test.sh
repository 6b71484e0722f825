#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test (unit,
# conformance against the real OpenAPI spec, integration on real Postgres and the
# Kafka mock cluster, end-to-end against the simulator), then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit, conformance and
# integration tests there too, and finally runs the libFuzzer targets for a fixed
# number of iterations.
# .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
# Each phase's header says how long the suite has run, so a slow phase shows in CI logs.
phase() { echo "== $1 (at $((SECONDS / 60))m$((SECONDS % 60))s)"; }
# The test builds carry no full debug information (-g): it costs a third of the build
# time and nothing here reads it. The sanitizer build keeps line tables (-g1) so its
# reports name file:line.
phase "build (-O2, warnings are errors)"
bash scripts/build.sh ci -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG"
phase "config examples"
for f in config/*.yaml; do
  LD_API_TOKEN=api-validate-only build/ci/bin/ldexport validate -c "$f"
done
phase "tests"
ctest --test-dir build/ci --output-on-failure -j "$jobs" --timeout 900

if [ "${LDX_SKIP_SANITIZERS:-0}" != "1" ]; then
  phase "build with AddressSanitizer + UndefinedBehaviorSanitizer"
  # Unit, conformance and integration tests (the Kafka and Postgres sinks on the mock
  # cluster and a real Postgres, and ldexport killed and restarted against them) run
  # under the sanitizers, so only their binaries are built; the end-to-end and chaos
  # suites ran in the plain build above.
  LDX_BUILD_TARGETS="ldx_unit_tests ld-simulator ldexport kafka-mock kafka_integration_tests ldx_postgres_integration_tests" \
    bash scripts/build.sh asan -DLDX_SANITIZE=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
  phase "tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure -j "$jobs" --timeout 1800 -L "unit|conformance|integration"
fi
if [ "${LDX_SKIP_FUZZ:-0}" != "1" ]; then
  # libFuzzer (clang) on the normalizer, the config loader and the rate-limit headers, a
  # fixed number of runs each: any crash, leak or hang fails the suite.
  phase "fuzzing"
  bash scripts/fuzz.sh "${LDX_FUZZ_RUNS:-20000}"
fi
phase "all tests passed"
