#include "tools/kiln-ir/inputs.h"

#include <absl/strings/str_cat.h>

#include <random>
#include <type_traits>

#include "lib/core/scalar_type.h"
#include "runtime/device.h"
#include "tools/kiln-ir/npy.h"

namespace kiln::tools {
namespace {

// Integers go through int64 so that large i64 values survive; anything involving a float goes
// through double.
void convertElements(const NpyArray& from, ScalarType to, void* dst) {
  const bool from_float = isFloatingType(from.dtype);
  for (int64_t i = 0; i < from.numel(); ++i) {
    double d = 0;
    int64_t l = 0;
    detail::visitType(from.dtype, [&]<typename T>() {
      T v = detail::loadAs<T>(from.data.data(), i);
      d = static_cast<double>(v);
      l = from_float ? static_cast<int64_t>(d) : static_cast<int64_t>(v);
    });
    detail::visitType(to, [&]<typename T>() {
      if constexpr (std::is_same_v<T, bool>) {
        detail::storeAs<bool>(dst, i, from_float ? d != 0 : l != 0);
      } else if constexpr (!std::is_integral_v<T>) {
        detail::storeAs<T>(dst, i, detail::castTo<T>(d));
      } else {
        detail::storeAs<T>(dst, i, static_cast<T>(l));
      }
    });
  }
}

void fillRandom(std::mt19937_64& rng, ScalarType t, int64_t n, void* dst) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uniform_int_distribution<int64_t> small(0, 9);
  detail::visitType(t, [&]<typename T>() {
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        detail::storeAs<bool>(dst, i, (small(rng) & 1) != 0);
      } else if constexpr (!std::is_integral_v<T>) {
        detail::storeAs<T>(dst, i, detail::castTo<T>(uniform(rng)));
      } else {
        detail::storeAs<T>(dst, i, static_cast<T>(small(rng)));
      }
    }
  });
}

}  // namespace

bool makeParamBuffers(const ir::Graph& g, const std::map<int64_t, std::string>& npy_inputs,
                      uint64_t seed, std::vector<runtime::BufferPtr>* out, std::string* error) {
  const int32_t params = g.paramCount();
  for (const auto& [k, path] : npy_inputs) {
    if (k < 0 || k >= params) {
      *error = absl::StrCat("--input ", k, "=", path, ": the graph has ", params,
                            params == 1 ? " param" : " params");
      return false;
    }
  }
  out->clear();
  std::mt19937_64 rng(seed);
  for (int32_t k = 0; k < params; ++k) {
    const ir::NodeDesc& d = g.instrs[g.paramInstr(k)].d;
    const int64_t n = d.numel();
    runtime::BufferPtr b =
        runtime::cpuDevice().allocate(static_cast<size_t>(n) * elementSize(d.dtype));
    auto it = npy_inputs.find(k);
    if (it == npy_inputs.end()) {
      fillRandom(rng, d.dtype, n, b->data());
    } else {
      NpyArray arr;
      if (!readNpy(it->second, &arr, error)) return false;
      if (arr.numel() != n) {
        *error = absl::StrCat(it->second, ": ", arr.numel(), " elements, but param ", k, " is ",
                              ir::typeText(d.dtype, d.shape));
        return false;
      }
      convertElements(arr, d.dtype, b->data());
    }
    out->push_back(std::move(b));
  }
  return true;
}

}  // namespace kiln::tools
