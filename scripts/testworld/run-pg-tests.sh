#!/usr/bin/env bash
# Runs the tests labelled "pg" of BUILD_DIR against a private PostgreSQL started in a temporary folder,
# which is stopped and removed afterwards whatever happens. Exits with ctest's code.
# Usage: scripts/testworld/run-pg-tests.sh BUILD_DIR [extra ctest arguments]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [ctest arguments]" >&2; exit 2; }
build_dir=$1
shift
here=$(cd "$(dirname "$0")" && pwd)

FERRY_TEST_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-pg.XXXXXX")
export FERRY_TEST_PG_DIR
cleanup() {
  bash "$here/postgres.sh" stop "$FERRY_TEST_PG_DIR" || true
  rm -rf "$FERRY_TEST_PG_DIR"
}
trap cleanup EXIT

while IFS='=' read -r key value; do
  case "$key" in
    FERRY_TEST_PG_URL) export FERRY_TEST_PG_URL=$value ;;
  esac
done < <(bash "$here/postgres.sh" start "$FERRY_TEST_PG_DIR")
[ -n "${FERRY_TEST_PG_URL:-}" ] || { echo "PostgreSQL did not start" >&2; exit 1; }

status=0
ctest --test-dir "$build_dir" -L pg --output-on-failure "$@" || status=$?
exit "$status"
