#!/usr/bin/env bash
# Installs every Debian package ldexport needs to build, test and run, on a fresh
# Debian 12 as root. Used by both README commands (scripts/main-job.sh, scripts/test.sh)
# and by the Dockerfile. Installs only what is missing; safe to run again.
set -euo pipefail

# Usage: install-deps.sh [--build-only]   (--build-only: just what compiling needs, for the Dockerfile)
BUILD_PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config make git ca-certificates curl procps
  # libraries chosen for ldexport
  libcurl4-openssl-dev libsimdjson-dev librdkafka-dev libpqxx-dev libyaml-cpp-dev
  # libpq itself: the Postgres sink also calls it directly (PQconninfoParse)
  libpq-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  # HTTP server (status listener, simulator) and what its pkg-config file asks for
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  # test framework (the build compiles the tests unless -DLDX_BUILD_TESTS=OFF)
  libgtest-dev libgmock-dev libbenchmark-dev
)
TEST_PACKAGES=(
  postgresql kcat prometheus clang libclang-rt-14-dev
  python3 python3-yaml python3-jsonschema
)
PACKAGES=("${BUILD_PACKAGES[@]}")
if [ "${1:-}" != "--build-only" ]; then
  PACKAGES+=("${TEST_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: every package is installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
