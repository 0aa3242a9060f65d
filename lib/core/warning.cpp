// The warning handler (include/kiln/warning.h): one process-wide handler, as libtorch's.
#include "kiln/warning.h"

#include <atomic>
#include <cstring>
#include <iostream>

namespace kiln {

void WarningHandler::process(const SourceLocation& source_location, const std::string& msg,
                             bool /*verbatim*/) {
  const char* slash = std::strrchr(source_location.file, '/');
  std::cerr << "[W " << (slash ? slash + 1 : source_location.file) << ":" << source_location.line
            << "] Warning: " << msg << " (function " << source_location.function << ")"
            << std::endl;
}

namespace Warning {
namespace {

WarningHandler* defaultHandler() {
  static WarningHandler* handler = new WarningHandler;  // kept until exit, like the warnings
  return handler;
}

std::atomic<WarningHandler*>& currentHandler() {
  static std::atomic<WarningHandler*> handler{defaultHandler()};
  return handler;
}

}  // namespace

void warn(const SourceLocation& source_location, const std::string& msg, bool verbatim) {
  currentHandler().load()->process(source_location, msg, verbatim);
}

void set_warning_handler(WarningHandler* handler) noexcept {
  currentHandler().store(handler != nullptr ? handler : defaultHandler());
}

WarningHandler* get_warning_handler() noexcept {
  return currentHandler().load();
}

}  // namespace Warning
}  // namespace kiln
