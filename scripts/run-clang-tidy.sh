#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy) over Ferry's own sources: app/, bridge/, connectors/.
# Tests, benchmarks and generated files are not checked. Fails on any warning.
# Usage: scripts/run-clang-tidy.sh [BUILD_DIR]   (default: build; configured here if it has no
# compile_commands.json). JOBS=N overrides the parallelism (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_dir=${1:-build}
jobs=${JOBS:-$(nproc)}

clang_tidy=$(command -v clang-tidy || command -v clang-tidy-14 || true)
if [ -z "$clang_tidy" ]; then
  echo "clang-tidy is not installed (Debian: apt-get install clang-tidy)" >&2
  exit 2
fi

if [ ! -f "$build_dir/compile_commands.json" ]; then
  # The compile commands and the generated headers (build_info.hpp) both come from configuring.
  cmake -S . -B "$build_dir" -G Ninja -DFERRY_BUILD_BENCH=OFF >/dev/null
fi

# Our translation units, as the build compiles them (so new files are picked up once CMake has seen them).
mapfile -t files < <(python3 - "$build_dir/compile_commands.json" "$root" <<'EOF'
import json, os, re, sys
db, root = sys.argv[1], os.path.realpath(sys.argv[2])
own = re.compile(r'^(app|bridge|connectors)/.*\.cpp$')
seen = set()
for entry in json.load(open(db)):
    path = os.path.realpath(os.path.join(entry['directory'], entry['file']))
    rel = os.path.relpath(path, root)
    if own.match(rel) and rel not in seen:
        seen.add(rel)
        print(path)
EOF
)
if [ ${#files[@]} -eq 0 ]; then
  echo "no source files of app/, bridge/ or connectors/ in $build_dir/compile_commands.json" >&2
  exit 2
fi
echo "clang-tidy ($("$clang_tidy" --version | grep -o 'version [0-9.]*')) on ${#files[@]} files, $jobs at a time"

start=$(date +%s)
status=0
# clang prints "N warnings generated." per file for the (filtered-out) warnings in Boost's headers: noise.
quiet_stderr() { grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' >&2 || true; }
# run-clang-tidy only when it can pass --warnings-as-errors (LLVM 14's cannot); else the same with xargs.
if command -v run-clang-tidy >/dev/null && run-clang-tidy --help 2>&1 | grep -q -- '-warnings-as-errors'; then
  # Its file arguments are regular expressions: match each path exactly.
  mapfile -t patterns < <(printf '%s\n' "${files[@]}" | sed 's/[][\.*^$+?(){}|]/\\&/g; s/^/^/; s/$/$/')
  run-clang-tidy -quiet -j "$jobs" -p "$build_dir" -clang-tidy-binary "$clang_tidy" \
    -warnings-as-errors='*' "${patterns[@]}" 2> >(quiet_stderr) || status=1
else
  printf '%s\0' "${files[@]}" |
    xargs -0 -n 1 -P "$jobs" "$clang_tidy" -p "$build_dir" --quiet --warnings-as-errors='*' \
      2> >(quiet_stderr) || status=1
fi
echo "clang-tidy took $(($(date +%s) - start)) s: $([ $status = 0 ] && echo clean || echo 'findings above')"
exit $status
