#!/usr/bin/env bash
# Runs Ferry's integration suite against private Prosody and ejabberd servers.
# Usage: tests/integration/run.sh [pytest args...]   (FERRY_BIN overrides the binary under test)
set -u
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 -m pytest -q tests/integration "$@"
