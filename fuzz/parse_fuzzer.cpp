// libFuzzer target: the graph text parser and verifier never crash, never abort and never read
// out of bounds on any input (ASan, UBSan), their errors always name the place, and whatever
// parses prints back to text that parses to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "lib/ir/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  kiln::ir::ParseResult r = kiln::ir::parseGraph(text, "fuzz");
  if (!r.graph) {
    if (r.error.rfind("fuzz:", 0) != 0) {
      std::fprintf(stderr, "error without a place: %s\n", r.error.c_str());
      __builtin_trap();
    }
    return 0;
  }
  const std::string printed = r.graph->text();
  kiln::ir::ParseResult again = kiln::ir::parseGraph(printed, "printed");
  if (!again.graph || again.graph->text() != printed) {
    std::fprintf(stderr, "print(parse(text)) does not read back:\n%s\n%s\n", printed.c_str(),
                 again.graph ? again.graph->text().c_str() : again.error.c_str());
    __builtin_trap();
  }
  return 0;
}
