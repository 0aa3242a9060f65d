#pragma once
// The libtorch rows of kiln-bench's built-in workloads (tools/kiln-bench/libtorch_workloads.h),
// behind an interface free of libtorch's headers. Compiled into kiln-bench only where CMake finds
// Torch (KILN_BENCH_LIBTORCH).
#include <string>

#include "tools/kiln-bench/suite.h"

namespace kiln::bench_tool {

/// Makes libtorch instances of the built-in workloads, on the kiln instances' inputs and with
/// as many threads as kiln uses when it is called (at::set_num_threads).
PeerFactory libtorchPeers();
/// "libtorch 1.13.1".
std::string libtorchVersion();

}  // namespace kiln::bench_tool
