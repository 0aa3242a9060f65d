#include "runtime/backend.h"

namespace kiln::runtime {

Target::Target(DeviceType device, std::string arch)
    : device_(device), arch_(std::move(arch)), key_(kiln::Device(device_).str() + " " + arch_) {}

}  // namespace kiln::runtime
