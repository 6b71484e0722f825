#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts the bundled LaunchDarkly
# simulator, exports its audit log into ./ldexport-data with
# `ldexport once -c config/demo.yaml`, prints a summary per stream, stops the simulator.
# Run it again: it resumes from ./ldexport-state and adds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh release -DLDX_BUILD_TESTS=OFF

BIN=build/release/bin
# A throw-away token for the simulator only; never printed.
LD_API_TOKEN="sim-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export LD_API_TOKEN

sim_out=$(mktemp)
"$BIN/ld-simulator" --port 0 --token "$LD_API_TOKEN" --seed 42 --audit-entries 5000 --rate-limit 500 >"$sim_out" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -f "$sim_out"' EXIT
for _ in $(seq 100); do
  grep -q '^listening on ' "$sim_out" && break
  sleep 0.1
done
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$sim_out" | head -n1)
[ -n "$port" ] || { echo "main-job: the simulator did not start" >&2; exit 1; }
export LDX_BASE_URL="http://127.0.0.1:$port"
echo "main-job: simulator on $LDX_BASE_URL"

"$BIN/ldexport" once -c config/demo.yaml

echo
echo "Archive ./ldexport-data:"
for dir in ldexport-data/*/; do
  stream=$(basename "$dir")
  case "$stream" in _*) continue ;; esac
  count=$(cat "$dir"*.jsonl 2>/dev/null | wc -l)
  echo "  $stream: $count records"
done
