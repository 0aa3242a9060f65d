#pragma once
// TensorOptions and the shorthands kiln::dtype(), kiln::device(), kiln::requires_grad();
// MemoryFormat.
#include <cstdint>
#include <optional>
#include <ostream>
#include <type_traits>
#include <utility>

#include "kiln/device.h"
#include "kiln/scalar_type.h"

namespace kiln {

/// libtorch's torch::optional and torch::nullopt (`x.backward({}, kiln::nullopt)`).
using std::nullopt;
using std::optional;

/// The layout in memory asked of a copy (Tensor::to), as c10::MemoryFormat. kiln's copies are
/// contiguous; the channels-last formats are not supported yet.
enum class MemoryFormat : int8_t { Contiguous, Preserve, ChannelsLast, ChannelsLast3d };

/// How a tensor's elements are laid out, as c10::Layout: kiln's tensors are all strided.
enum class Layout : int8_t { Strided };
inline constexpr Layout kStrided = Layout::Strided;
/// "Strided", as libtorch prints it.
inline std::ostream& operator<<(std::ostream& os, Layout) {
  return os << "Strided";
}

/// Options for creating a tensor; unset fields take the defaults (the default dtype, kCPU, no
/// grad).
class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(ScalarType t) : dtype_(t) {}
  TensorOptions(Device d) : device_(d) {}
  /// Whatever constructs a Device (kCUDA, "cuda:0", {kCUDA, 0}), as libtorch's TensorOptions, so
  /// that `x.to(kCUDA)` and `x.to({kCUDA, 0})` name the TensorOptions overload.
  template <typename... Args,
            typename = std::enable_if_t<std::is_constructible_v<Device, Args&&...>>>
  TensorOptions(Args&&... args) : device_(Device(std::forward<Args>(args)...)) {}

  /// A dtype given as a TypeMeta, as libtorch's TensorOptions::dtype(caffe2::TypeMeta).
  TensorOptions dtype(TypeMeta t) const { return dtype(t.toScalarType()); }
  TensorOptions dtype(ScalarType t) const {
    TensorOptions o = *this;
    o.dtype_ = t;
    return o;
  }
  TensorOptions device(Device d) const {
    TensorOptions o = *this;
    o.device_ = d;
    return o;
  }
  /// What constructs a device: `device(kCUDA, 1)`, `device("cuda:1")`, as libtorch's.
  template <typename... Args,
            typename = std::enable_if_t<std::is_constructible_v<Device, Args&&...>>>
  TensorOptions device(Args&&... args) const {
    TensorOptions o = *this;
    o.device_ = Device(std::forward<Args>(args)...);
    return o;
  }
  /// A CUDA device with this index (libtorch's setter of that name).
  TensorOptions device_index(int8_t index) const { return device(DeviceType::CUDA, index); }
  TensorOptions requires_grad(bool r) const {
    TensorOptions o = *this;
    o.requires_grad_ = r;
    return o;
  }
  ScalarType dtype() const { return dtype_.value_or(get_default_dtype_as_scalartype()); }
  Device device() const { return device_.value_or(Device(DeviceType::CPU)); }
  /// The device's index (-1 when it names none).
  int32_t device_index() const { return device().index(); }
  bool requires_grad() const { return requires_grad_.value_or(false); }
  bool has_dtype() const { return dtype_.has_value(); }
  bool has_device() const { return device_.has_value(); }
  bool has_requires_grad() const { return requires_grad_.has_value(); }

 private:
  std::optional<ScalarType> dtype_;
  std::optional<Device> device_;
  std::optional<bool> requires_grad_;
};

inline TensorOptions dtype(ScalarType t) {
  return TensorOptions().dtype(t);
}
inline TensorOptions device(Device d) {
  return TensorOptions().device(d);
}
inline TensorOptions requires_grad(bool r = true) {
  return TensorOptions().requires_grad(r);
}

}  // namespace kiln
