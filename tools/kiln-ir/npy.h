#pragma once
// NumPy's .npy format (numpy.lib.format), the subset kiln-ir reads and writes: versions 1.0 and
// 2.0, C order, little-endian <f4 <f8 <i4 <i8 and |b1 (kiln's f32 f64 i32 i64 i1).
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/scalar_type.h"

namespace kiln::tools {

struct NpyArray {
  ScalarType dtype = ScalarType::Float;
  std::vector<int64_t> shape;  // empty for a 0-d array
  std::string data;            // numel * elementSize(dtype) bytes, C order

  int64_t numel() const;
};

/// Parses the bytes of a .npy file. On failure returns false and sets `error` (without a file
/// name: the caller adds it).
bool parseNpy(const std::string& bytes, NpyArray* out, std::string* error);

/// The bytes of a version 1.0 file (2.0 when the header does not fit 1.0's 16-bit length).
std::string formatNpy(const NpyArray& a);

/// File versions; errors name the path.
bool readNpy(const std::string& path, NpyArray* out, std::string* error);
bool writeNpy(const std::string& path, const NpyArray& a, std::string* error);

}  // namespace kiln::tools
