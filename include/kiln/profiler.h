#pragma once
// The kernel profiler: times every kernel launch (and buffer copy) of every materialisation, with
// the bytes it moves, the arithmetic it does and where in the graph it comes from, as a table or
// a Chrome trace-event file (Perfetto, chrome://tracing).
//
// The environment variable KILN_PROFILE enables it for a whole run: KILN_PROFILE=1 prints
// table() to stderr at exit; KILN_PROFILE=FILE.json writes the trace to FILE.json at exit and
// prints nothing.
#include <string>

namespace kiln::profiler {

/// Starts recording launches. While disabled, materialisation pays one atomic load per run.
void enable();
/// Stops recording; what was recorded stays until reset().
void disable();
/// Whether launches are being recorded.
bool is_enabled();
/// Forgets everything recorded so far and restarts the trace's clock.
void reset();

/// Per kernel (a compiled kernel at one place of a graph) and per copy: calls, total ms, mean us,
/// share of the total time, achieved GB/s and GFLOP/s, and the value it computes with the reason
/// it is a kernel of its own; sorted by total time, then a line of totals. Bytes are an
/// upper-bound estimate (each buffer a kernel reads or writes counted in full); FLOPs count the
/// arithmetic on values (2*M*N*K for a matrix product). With set_machine_limits(), also the share
/// of the roofline and whether memory or compute bounds the kernel.
std::string table();
/// Writes the launches as a Chrome trace-event JSON file, one complete event per launch (the
/// first million of them) with its bytes, FLOPs and origin. Throws kiln::Error if it cannot.
void write_trace(const std::string& path);

/// The machine's memory bandwidth (GB/s) and peak arithmetic throughput (GFLOP/s), as measured by
/// a triad and an FMA loop: table() then shows each kernel's share of the roofline. Both 0 clears
/// them; anything else not positive throws kiln::Error.
void set_machine_limits(double gbytes_per_s, double gflops);

}  // namespace kiln::profiler
