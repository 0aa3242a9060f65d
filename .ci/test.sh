#!/usr/bin/env bash
# The project's test command: bash .ci/test.sh
#   1. Release build in build/ (Ninja) and the whole test suite (ctest);
#   2. install into a temporary prefix, then build and run examples/embed against that install
#      (find_package(kiln CONFIG)), from its build folder and installed;
#   3. a short run of every benchmark row (bench/kiln_bench), which must report no error;
#   4. AddressSanitizer + UndefinedBehaviorSanitizer build (library and tests only) in build-asan/
#      and the test suite again.
# Idempotent: reruns reuse build/ and build-asan/. Installs missing Debian packages first (root).
# Environment: KILN_JOBS (default 2), KILN_BUILD_DIR (build), KILN_ASAN_BUILD_DIR (build-asan).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/lib.sh

jobs=${KILN_JOBS:-2}
build=${KILN_BUILD_DIR:-build}
asan_build=${KILN_ASAN_BUILD_DIR:-build-asan}

ensure_packages

section "Release build ($build)"
configure "$build" -DCMAKE_BUILD_TYPE=Release \
  -DKILN_BUILD_TESTS=ON -DKILN_BUILD_EXAMPLES=ON -DKILN_BUILD_BENCHMARKS=ON -DKILN_INSTALL=ON \
  -DKILN_SANITIZE=OFF
cmake --build "$build" -j "$jobs"

section "Tests (Release)"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

section "Install and build examples/embed against the installed package"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/kiln"
cmake -S examples/embed -B "$tmp/embed-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/kiln"
cmake --build "$tmp/embed-build" -j "$jobs"
echo "-- running examples/embed from its build folder"
"$tmp/embed-build/embed"
cmake --install "$tmp/embed-build" --prefix "$tmp/app"
echo "-- running examples/embed installed ($tmp/app/bin/embed)"
"$tmp/app/bin/embed"

section "Benchmarks (short run of every row: a check, not a measurement)"
"$build/bench/kiln_bench" --benchmark_min_time=0.01 2>&1 | tee "$tmp/bench.txt"
if grep -q "ERROR OCCURRED" "$tmp/bench.txt"; then
  echo "a benchmark row reported an error" >&2
  exit 1
fi

section "AddressSanitizer + UndefinedBehaviorSanitizer build ($asan_build: library and tests)"
# No ASAN_OPTIONS: LeakSanitizer stays on (the LLVM JIT leaks nothing it reports).
configure "$asan_build" -DCMAKE_BUILD_TYPE=Release -DKILN_SANITIZE=ON \
  -DKILN_BUILD_TESTS=ON -DKILN_BUILD_EXAMPLES=OFF -DKILN_BUILD_BENCHMARKS=OFF -DKILN_INSTALL=OFF
cmake --build "$asan_build" -j "$jobs"

section "Tests (ASan + UBSan)"
ctest --test-dir "$asan_build" --output-on-failure -j "$jobs"

section "All checks passed"
