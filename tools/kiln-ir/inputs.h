#pragma once
// A graph's params as `kiln-ir run` fills them (and `kiln-bench`, which runs .kir files too):
// from NumPy .npy files where given, seeded random values otherwise.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/ir/graph.h"
#include "runtime/buffer.h"

namespace kiln::tools {

/// One buffer per param of `g` (param K's elements, flat, in its dtype). Param K is read from
/// `npy_inputs[K]` where given (any shape with the param's number of elements; another dtype is
/// converted); the others get values from a std::mt19937_64 seeded with `seed`: floats uniform
/// in [0, 1), integers in [0, 10), booleans 0 or 1. False, with `error` set (naming the file),
/// when a file cannot be read or does not fit its param, or a K is not a param of `g`.
bool makeParamBuffers(const ir::Graph& g, const std::map<int64_t, std::string>& npy_inputs,
                      uint64_t seed, std::vector<runtime::BufferPtr>* out, std::string* error);

}  // namespace kiln::tools
