# Shared by the scripts in .ci/ (sourced, not run). Needs bash; callers use `set -euo pipefail`.

# The Debian packages the build needs: compiler and build tools, LLVM 16 (the JIT; its shared
# libLLVM-16), Abseil, GoogleTest/GoogleMock (test/), Google Benchmark (bench/), clang and its
# runtimes (libFuzzer, for the parser fuzzer in fuzz/), zlib and Fashion-MNIST (the training demo,
# examples/fashion_mnist.cpp, reads the data set's gzip files), and libtorch (PyTorch 1.13's C++
# library: the benchmarks' libtorch rows; optional when building by hand) with OpenBLAS, which
# libtorch's matrix products then use (its libblas.so.3 is otherwise Debian's reference BLAS,
# which made libtorch's training step 4.5x slower).
KILN_PACKAGES=(cmake ninja-build g++ llvm-16-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-dev zlib1g-dev dataset-fashion-mnist libtorch-dev libopenblas-dev)

# Seconds since the epoch when the outermost script started (exported by .ci/run to .ci/test.sh).
export KILN_CI_START=${KILN_CI_START:-$(date +%s)}

# Prints a section header with the time since the script started.
section() {
  printf '\n==== %s  [+%ss] ====\n' "$*" "$(($(date +%s) - KILN_CI_START))"
}

# Installs whichever of KILN_PACKAGES is missing (nothing to do, and no apt-get, when all are there).
ensure_packages() {
  local missing=() p
  for p in "${KILN_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "Debian packages: all present (${KILN_PACKAGES[*]})"
    return 0
  fi
  section "Installing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
}

# configure DIR ARGS...: configures the repository into DIR with Ninja (a folder that is already
# configured keeps its generator, so reruns never fail on a generator mismatch).
configure() {
  local dir=$1
  shift
  local gen=()
  if [[ ! -f "$dir/CMakeCache.txt" ]]; then gen=(-G Ninja); fi
  cmake -S . -B "$dir" "${gen[@]}" "$@"
}
