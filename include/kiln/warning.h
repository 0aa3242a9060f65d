#pragma once
// Warnings, as libtorch gives them (c10/util/Exception.h): kiln reports a warning to the current
// handler, which by default prints it to stderr; a program replaces the handler to collect,
// silence or escalate warnings (c10's WarningHandler and Warning::set_warning_handler).
#include <cstdint>
#include <string>

namespace kiln {

/// Where a warning was raised in kiln's code.
struct SourceLocation {
  const char* function;
  const char* file;
  uint32_t line;
};

/// Receives every warning. The default handler prints
/// `[W file.cpp:123] Warning: MESSAGE (function NAME)` to stderr, as libtorch's does.
class WarningHandler {
 public:
  virtual ~WarningHandler() = default;
  /// Handles one warning; `verbatim` says the message needs no context added.
  virtual void process(const SourceLocation& source_location, const std::string& msg,
                       bool verbatim);
};

namespace Warning {

/// Reports a warning to the current handler.
void warn(const SourceLocation& source_location, const std::string& msg, bool verbatim);
/// Makes `handler` the handler of every thread's warnings (null restores the default). The caller
/// keeps it alive while it is set.
void set_warning_handler(WarningHandler* handler) noexcept;
/// The current handler (the default one unless replaced).
WarningHandler* get_warning_handler() noexcept;

/// Sets a handler for its lifetime, then puts the previous one back.
class WarningHandlerGuard {
 public:
  explicit WarningHandlerGuard(WarningHandler* new_handler) : prev_handler_(get_warning_handler()) {
    set_warning_handler(new_handler);
  }
  ~WarningHandlerGuard() { set_warning_handler(prev_handler_); }
  WarningHandlerGuard(const WarningHandlerGuard&) = delete;
  WarningHandlerGuard& operator=(const WarningHandlerGuard&) = delete;

 private:
  WarningHandler* prev_handler_;
};

}  // namespace Warning
}  // namespace kiln
