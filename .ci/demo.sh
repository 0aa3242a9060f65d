#!/usr/bin/env bash
# The first thing to run: bash .ci/demo.sh
# Installs the Debian packages the build needs (only those missing; root), builds the tutorial
# (Release, Ninja, in build/) and runs it. Idempotent: a rerun only rebuilds what changed.
# Environment: KILN_JOBS (default 2), KILN_BUILD_DIR (build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source .ci/lib.sh

jobs=${KILN_JOBS:-2}
build=${KILN_BUILD_DIR:-build}

section "Debian packages"
ensure_packages

section "Build the demos ($build/examples)"
configure "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs" --target tutorial fashion_mnist

section "Run $build/examples/tutorial (the seed notebook)"
"$build/examples/tutorial"

section "Run $build/examples/fashion_mnist (an MLP trained on Fashion-MNIST, ${KILN_DEMO_EPOCHS:-2} epochs)"
"$build/examples/fashion_mnist" --epochs "${KILN_DEMO_EPOCHS:-2}"
