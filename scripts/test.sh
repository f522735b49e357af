#!/usr/bin/env bash
# Installs what is missing, builds Ferry, and runs every test: unit tests, the integration suites against
# real Prosody and ejabberd, then the same again built with AddressSanitizer + UBSan (integration on Prosody).
# Usage: scripts/test.sh [--no-install] [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --no-sanitize) sanitize=0 ;;
    *) echo "usage: $0 [--no-install] [--no-sanitize]" >&2; exit 2 ;;
  esac
done

step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

if [ "$install" = 1 ]; then
  step "installing Debian packages"
  bash scripts/install-deps.sh
fi

step "checking formatting"
bash scripts/check-format.sh
step "checking that bridge/ stays protocol-blind and includes point down"
bash scripts/check-layers.sh

build_and_unit_test() {
  local dir=$1; shift
  step "building in $dir"
  cmake -S . -B "$dir" -G Ninja -DFERRY_WERROR=ON "$@" >/dev/null
  cmake --build "$dir"
  step "unit tests ($dir)"
  ctest --test-dir "$dir" -L unit --output-on-failure -j2
  step "store tests against a private PostgreSQL ($dir)"
  bash scripts/testworld/run-pg-tests.sh "$dir"
}

build_and_unit_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo
# The Prosody and ejabberd halves of the suite share no port (every server, PostgreSQL and fake picks free
# ones), so they run side by side; the ejabberd half keeps its output until it ends.
step "integration tests against real Prosody, ejabberd and PostgreSQL (build)"
ejabberd_log=$(mktemp)
FERRY_BIN="$PWD/build/ferry" FERRY_SERVERS=ejabberd bash tests/integration/run.sh -k ejabberd >"$ejabberd_log" 2>&1 &
ejabberd_half=$!
prosody_status=0
FERRY_BIN="$PWD/build/ferry" FERRY_SERVERS=prosody bash tests/integration/run.sh || prosody_status=$?
ejabberd_status=0
wait "$ejabberd_half" || ejabberd_status=$?
echo "--- the ejabberd half:"
cat "$ejabberd_log"
rm -f "$ejabberd_log"
if [ "$prosody_status" != 0 ] || [ "$ejabberd_status" != 0 ]; then
  echo "integration tests failed (Prosody half: $prosody_status, ejabberd half: $ejabberd_status)" >&2
  exit 1
fi
step "clang-tidy (.clang-tidy checks, warnings are errors)"
bash scripts/run-clang-tidy.sh build
if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build_and_unit_test build-asan -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON -DFERRY_BUILD_BENCH=OFF
  # The sanitizers look at Ferry's own code, which both servers drive the same way: one server is enough.
  step "integration tests under the sanitizers, against real Prosody and PostgreSQL (build-asan)"
  FERRY_BIN="$PWD/build-asan/ferry" FERRY_SERVERS=prosody bash tests/integration/run.sh
fi
step "all tests passed"
