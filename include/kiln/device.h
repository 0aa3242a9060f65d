#pragma once
// Where a tensor lives: kiln::Device, as torch::Device.
#include <cstdint>
#include <ostream>
#include <string>

namespace kiln {

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };
inline constexpr DeviceType kCPU = DeviceType::CPU;
inline constexpr DeviceType kCUDA = DeviceType::CUDA;

/// A device type and an optional index (-1: the current device of that type).
class Device {
 public:
  Device(DeviceType type, int8_t index = -1);
  /// Parses "cpu", "cuda", "cuda:1"; throws kiln::Error otherwise.
  Device(const std::string& spec);
  Device(const char* spec) : Device(std::string(spec)) {}

  DeviceType type() const { return type_; }
  int8_t index() const { return index_; }
  bool has_index() const { return index_ >= 0; }
  bool is_cpu() const { return type_ == DeviceType::CPU; }
  bool is_cuda() const { return type_ == DeviceType::CUDA; }
  /// "cpu", "cuda", "cuda:0".
  std::string str() const;

  bool operator==(const Device& o) const { return type_ == o.type_ && index_ == o.index_; }
  bool operator!=(const Device& o) const { return !(*this == o); }

 private:
  DeviceType type_;
  int8_t index_;
};

std::ostream& operator<<(std::ostream& os, const Device& d);

namespace cuda {
/// Whether a CUDA device can be used. False until the CUDA backend lands.
bool is_available();
/// Number of usable CUDA devices (0 until the CUDA backend lands).
int64_t device_count();
}  // namespace cuda

}  // namespace kiln
