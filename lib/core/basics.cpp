// Small public value types: Device, Scalar, IntArrayRef.
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <cstdlib>

#include "kiln/array_ref.h"
#include "kiln/device.h"
#include "kiln/error.h"
#include "kiln/scalar.h"

namespace kiln {

Device::Device(DeviceType type, int8_t index) : type_(type), index_(index) {
  if (type == DeviceType::CPU && index > 0) {
    throw Error(absl::StrCat("CPU device index must be -1 or zero, got ", index));
  }
}

Device::Device(const std::string& spec) : type_(DeviceType::CPU), index_(-1) {
  std::string kind = spec.substr(0, spec.find(':'));
  if (kind == "cpu") {
    type_ = DeviceType::CPU;
  } else if (kind == "cuda") {
    type_ = DeviceType::CUDA;
  } else {
    throw Error(
        absl::StrCat("Expected one of cpu, cuda device type at start of device string: ", spec));
  }
  size_t colon = spec.find(':');
  if (colon != std::string::npos) {
    std::string idx = spec.substr(colon + 1);
    if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) {
      throw Error(absl::StrCat("Invalid device string: '", spec, "'"));
    }
    index_ = static_cast<int8_t>(std::atoi(idx.c_str()));
  }
}

std::string Device::str() const {
  std::string s = type_ == DeviceType::CPU ? "cpu" : "cuda";
  if (index_ >= 0) absl::StrAppend(&s, ":", static_cast<int>(index_));
  return s;
}

std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << d.str();
}

namespace cuda {
bool is_available() {
  return false;
}
int64_t device_count() {
  return 0;
}
}  // namespace cuda

std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  if (s.isFloatingPoint()) return os << s.toDouble();
  if (s.isBoolean()) return os << (s.toBool() ? "true" : "false");
  return os << s.toLong();
}

bool IntArrayRef::equals(IntArrayRef o) const {
  if (size_ != o.size_) return false;
  for (size_t i = 0; i < size_; ++i) {
    if (data_[i] != o.data_[i]) return false;
  }
  return true;
}

std::ostream& operator<<(std::ostream& os, IntArrayRef a) {
  return os << "[" << absl::StrJoin(a.begin(), a.end(), ", ") << "]";
}

}  // namespace kiln
