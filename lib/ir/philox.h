#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): the
// counter-based generator behind rand/randn. Element i of a random node uses counter
// offset + i and the seed as key, so a value never depends on how kernels were fused. The LLVM
// emitter generates the same rounds inline; this host version serves the reference interpreter.
#include <array>
#include <cmath>
#include <cstdint>

namespace kiln::ir::philox {

inline constexpr uint32_t kMul0 = 0xD2511F53u;
inline constexpr uint32_t kMul1 = 0xCD9E8D57u;
inline constexpr uint32_t kBump0 = 0x9E3779B9u;
inline constexpr uint32_t kBump1 = 0xBB67AE85u;
inline constexpr int kRounds = 10;

inline std::array<uint32_t, 4> block(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < kRounds; ++r) {
    uint64_t p0 = uint64_t{kMul0} * c0, p1 = uint64_t{kMul1} * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kBump0;
    k1 += kBump1;
  }
  return {c0, c1, c2, c3};
}

/// 24 random bits scaled to [0, 1): exactly representable in float.
inline double uniformFloatBits(uint32_t x) {
  return (x >> 8) * 0x1p-24;
}
/// 53 random bits scaled to [0, 1): exactly representable in double.
inline double uniformDoubleBits(uint32_t hi, uint32_t lo) {
  return static_cast<double>(((uint64_t{hi} << 32) | lo) >> 11) * 0x1p-53;
}

/// The uniform number the kernels produce for (counter, key), in float or double precision.
inline double uniform(uint64_t counter, uint64_t key, bool is_double) {
  auto b = block(counter, key);
  return is_double ? uniformDoubleBits(b[0], b[1]) : uniformFloatBits(b[0]);
}

/// Box-Muller on one block: u1 from lanes 0-1 (moved to (0, 1]), u2 from lanes 2-3.
inline double normal(uint64_t counter, uint64_t key, bool is_double) {
  auto b = block(counter, key);
  double u1 = 1.0 - (is_double ? uniformDoubleBits(b[0], b[1]) : uniformFloatBits(b[0]));
  double u2 = is_double ? uniformDoubleBits(b[2], b[3]) : uniformFloatBits(b[2]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace kiln::ir::philox
