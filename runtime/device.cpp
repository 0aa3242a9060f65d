#include "runtime/device.h"

#include "kiln/error.h"

namespace kiln::runtime {

Device& deviceFor(const kiln::Device& device) {
  if (device.is_cpu()) return cpuDevice();
  throw Error("kiln: " + device.str() +
              " tensors are not supported yet (kiln has no backend for this device type)");
}

}  // namespace kiln::runtime
