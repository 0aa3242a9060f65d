// kiln-bench (tools/kiln-bench): the figures it derives (medians, rates, the roofline) on made-up
// results, the JSON and SVG it writes, the machine-limits cache, and the tool itself on a small
// graph file: the structure of its table and files, never how long anything took.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test/json_parser.h"
#include "test/kiln_ir_tool.h"
#include "tools/kiln-bench/machine.h"
#include "tools/kiln-bench/report.h"
#include "tools/kiln-bench/suite.h"

namespace {

namespace bt = kiln::bench_tool;
using kiln::test_support::Json;
using kiln::test_support::JsonParser;
using kiln::test_support::runProgram;
using kiln::test_support::ToolResult;

// ---- a small XML checker: the SVG must be well-formed, not just look like it ----

// Whether `s` is one well-formed XML element (after an optional declaration): tags nest and
// close, attribute values are quoted, '<' never appears in text and every '&' starts an entity.
// Collects the text between tags into `texts`.
bool wellFormedXml(const std::string& s, std::vector<std::string>* texts, std::string* error) {
  std::vector<std::string> open;
  size_t i = 0;
  bool root_seen = false;
  auto fail = [&](const std::string& why) {
    *error = why + " at offset " + std::to_string(i);
    return false;
  };
  auto entitiesOk = [](const std::string& t) {
    for (size_t k = t.find('&'); k != std::string::npos; k = t.find('&', k + 1)) {
      size_t semi = t.find(';', k);
      if (semi == std::string::npos) return false;
      const std::string name = t.substr(k + 1, semi - k - 1);
      if (name != "amp" && name != "lt" && name != "gt" && name != "quot" && name != "apos")
        return false;
    }
    return true;
  };
  if (s.compare(0, 5, "<?xml") == 0) {
    i = s.find("?>");
    if (i == std::string::npos) return fail("unterminated declaration");
    i += 2;
  }
  while (i < s.size()) {
    if (s[i] != '<') {
      size_t next = s.find('<', i);
      std::string text = s.substr(i, next == std::string::npos ? std::string::npos : next - i);
      if (!entitiesOk(text)) return fail("bad entity in text");
      if (open.empty() && text.find_first_not_of(" \n\t") != std::string::npos)
        return fail("text outside the root element");
      if (!open.empty() && text.find_first_not_of(" \n\t") != std::string::npos)
        texts->push_back(text);
      if (next == std::string::npos) break;
      i = next;
      continue;
    }
    size_t end = s.find('>', i);
    if (end == std::string::npos) return fail("unterminated tag");
    std::string tag = s.substr(i + 1, end - i - 1);
    if (!tag.empty() && tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return fail("mismatched </" + tag);
      open.pop_back();
    } else {
      const bool self_closing = !tag.empty() && tag.back() == '/';
      if (self_closing) tag.pop_back();
      const std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
      if (name.empty()) return fail("empty tag name");
      if (open.empty() && root_seen) return fail("a second root element");
      root_seen = true;
      // Attributes: name="value" pairs.
      size_t k = name.size();
      while (k < tag.size()) {
        k = tag.find_first_not_of(" \n\t", k);
        if (k == std::string::npos) break;
        size_t eq = tag.find('=', k);
        if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"')
          return fail("unquoted attribute in <" + name);
        size_t close = tag.find('"', eq + 2);
        if (close == std::string::npos) return fail("unterminated attribute in <" + name);
        if (!entitiesOk(tag.substr(eq + 2, close - eq - 2))) return fail("bad entity");
        k = close + 1;
      }
      if (!self_closing) open.push_back(name);
    }
    i = end + 1;
  }
  if (!open.empty()) return fail("<" + open.back() + "> never closed");
  if (!root_seen) return fail("no element");
  return true;
}

TEST(KilnBenchXml, TheCheckerRejectsBrokenXml) {
  std::vector<std::string> texts;
  std::string error;
  EXPECT_TRUE(wellFormedXml("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/><c>t &amp; u</c></a>\n",
                            &texts, &error))
      << error;
  for (const char* bad :
       {"<a><b></a></b>", "<a x=1></a>", "<a>x & y</a>", "<a>", "<a/><b/>", "<a x=\"1></a>"}) {
    EXPECT_FALSE(wellFormedXml(bad, &texts, &error)) << bad;
  }
}

// ---- the figures ----

bt::ModeResult modeResult(bt::Mode mode, std::vector<double> samples) {
  bt::ModeResult m;
  m.mode = mode;
  m.sample_ms = std::move(samples);
  bt::summarise(&m);
  if (mode != bt::Mode::Libtorch) {
    m.kernels_per_iteration = mode == bt::Mode::Lazy ? 1 : 8;
    m.cold_compiled = mode == bt::Mode::Lazy ? 1 : 6;
    m.cold_compile_ms = 20;
  }
  m.cold_ms = 25;
  return m;
}

// Two workloads with every mode: "chain" whose lazy row moves 12 MB and does 1 MFLOP in 1 ms,
// and one with a name that needs escaping in JSON and XML.
bt::Report madeUpReport() {
  bt::Report r;
  r.cpu = "Test CPU \"X\" <1>";
  r.isa = "avx2+fma";
  r.libtorch = "libtorch 1.13.1";
  r.machine.push_back({1, 24.0, 100.0, "given: --machine-limits"});
  bt::WorkloadResult chain;
  chain.name = "chain";
  chain.description = "tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25";
  chain.threads = 1;
  chain.bytes = 12'000'000;
  chain.flops = 1'000'000;
  chain.modes = {modeResult(bt::Mode::Lazy, {1.0, 1.2, 0.9}),
                 modeResult(bt::Mode::Eager, {4.0, 3.0, 5.0}),
                 modeResult(bt::Mode::Libtorch, {40.0, 41.0, 39.0})};
  bt::WorkloadResult odd = chain;
  odd.name = "a&b<\"c\">.kir";
  odd.modes.pop_back();
  r.rows = {chain, odd};
  return r;
}

TEST(KilnBenchFigures, MedianLeastAndGreatest) {
  bt::ModeResult odd = modeResult(bt::Mode::Lazy, {3, 1, 2});
  EXPECT_EQ(odd.median_ms, 2);
  EXPECT_EQ(odd.min_ms, 1);
  EXPECT_EQ(odd.max_ms, 3);
  bt::ModeResult even = modeResult(bt::Mode::Lazy, {4, 1, 3, 2});
  EXPECT_EQ(even.median_ms, 2.5);
}

TEST(KilnBenchFigures, RooflineOfKnownBytesAndFlops) {
  bt::Report r = madeUpReport();
  const bt::WorkloadResult& chain = r.rows[0];
  // 12 MB and 1 MFLOP in 1 ms: 12 GB/s and 1 GFLOP/s. At 24 GB/s the bytes need 0.5 ms and at
  // 100 GFLOP/s the FLOPs 0.01 ms: memory binds, and 0.5 ms of 1 ms is half the roofline.
  auto lazy = bt::rowRates(chain, *chain.mode(bt::Mode::Lazy), r.limitsAt(1));
  EXPECT_NEAR(lazy.gbytes_per_s, 12.0, 1e-9);
  EXPECT_NEAR(lazy.gflops, 1.0, 1e-9);
  EXPECT_TRUE(lazy.memory_bound);
  EXPECT_NEAR(lazy.roofline_share, 0.5, 1e-9);
  // Eager's median is 4 ms for the same work: an eighth of the roofline.
  auto eager = bt::rowRates(chain, *chain.mode(bt::Mode::Eager), r.limitsAt(1));
  EXPECT_NEAR(eager.gbytes_per_s, 3.0, 1e-9);
  EXPECT_NEAR(eager.roofline_share, 0.125, 1e-9);
  // A compute-bound workload: 2 GFLOP in 40 ms at a 100 GFLOP/s peak needs 20 ms: 50%.
  bt::WorkloadResult mm = chain;
  mm.bytes = 1000;
  mm.flops = 2'000'000'000;
  auto lib = bt::rowRates(mm, *mm.mode(bt::Mode::Libtorch), r.limitsAt(1));
  EXPECT_FALSE(lib.memory_bound);
  EXPECT_NEAR(lib.gflops, 50.0, 1e-9);
  EXPECT_NEAR(lib.roofline_share, 0.5, 1e-9);
  // No limits at 2 threads: rates, but no roofline.
  auto unknown = bt::rowRates(chain, *chain.mode(bt::Mode::Lazy), r.limitsAt(2));
  EXPECT_NEAR(unknown.gbytes_per_s, 12.0, 1e-9);
  EXPECT_EQ(unknown.roofline_share, 0.0);
}

TEST(KilnBenchFigures, MillisecondsWithFourSignificantDigits) {
  EXPECT_EQ(bt::formatMs(410.23), "410.2");
  EXPECT_EQ(bt::formatMs(18.8123), "18.81");
  EXPECT_EQ(bt::formatMs(1.0), "1.000");
  EXPECT_EQ(bt::formatMs(0.0024123), "0.002412");
  EXPECT_EQ(bt::formatMs(1234.5), "1234");
  EXPECT_EQ(bt::formatMs(0), "0");
}

// The data lines of a table: those after the header line, up to the first empty line.
std::vector<std::vector<std::string>> tableRows(const std::string& table, std::string* header) {
  std::istringstream lines(table);
  std::vector<std::vector<std::string>> rows;
  bool in_table = false;
  for (std::string line; std::getline(lines, line);) {
    if (!in_table) {
      if (line.rfind("workload", 0) == 0) {
        in_table = true;
        *header = line;
      }
      continue;
    }
    if (line.empty()) break;
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string w; words >> w;) row.push_back(w);
    rows.push_back(row);
  }
  return rows;
}

TEST(KilnBenchTable, OneLinePerWorkloadAndModeWithItsFigures) {
  std::string header;
  const std::string table = bt::tableText(madeUpReport());
  auto rows = tableRows(table, &header);
  for (const char* column :
       {"threads", "mode", "median ms", "min ms", "max ms", "/ eager", "kernels", "cold ms",
        "compiled", "compile ms", "GB/s", "GFLOP/s", "roofline"}) {
    EXPECT_NE(header.find(column), std::string::npos) << column;
  }
  ASSERT_EQ(rows.size(), 5u) << table;
  // chain's lazy line: name, threads, mode, median, min, max, / eager, kernels, cold ms,
  // compiled, compile ms, GB/s, GFLOP/s, roofline (two words).
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"chain", "1", "lazy", "1.000", "0.9000", "1.200", "0.25", "1",
                                      "25.00", "1", "20.00", "12.00", "1.00", "50%", "mem"}));
  EXPECT_EQ(rows[1][0], "eager");
  EXPECT_EQ(rows[1][4], "1.00");  // eager against itself
  EXPECT_EQ(rows[2][0], "libtorch");
  EXPECT_EQ(rows[2][4], "10.00");
  EXPECT_EQ(rows[2][5], "-");  // no kiln kernels
  EXPECT_EQ(rows[3][0], "a&b<\"c\">.kir");
  EXPECT_NE(table.find("chain: tanh((x + y) * 0.5)"), std::string::npos);
}

TEST(KilnBenchJson, ValidWithEveryFigure) {
  const std::string text = bt::jsonText(madeUpReport());
  Json j;
  ASSERT_TRUE(JsonParser(text).parse(&j)) << text;
  EXPECT_EQ(j.fields["cpu"].text, "Test CPU \"X\" <1>");
  EXPECT_EQ(j.fields["machine"].items.at(0).fields["memory_gbytes_per_s"].number, 24.0);
  const Json& chain = j.fields["workloads"].items.at(0);
  EXPECT_EQ(chain.fields.at("name").text, "chain");
  EXPECT_EQ(chain.fields.at("bytes_per_iteration").number, 12e6);
  const Json& lazy = chain.fields.at("modes").items.at(0);
  EXPECT_EQ(lazy.fields.at("mode").text, "lazy");
  EXPECT_EQ(lazy.fields.at("median_ms").number, 1.0);
  EXPECT_EQ(lazy.fields.at("samples_ms").items.size(), 3u);
  EXPECT_NEAR(lazy.fields.at("roofline_share").number, 0.5, 1e-9);
  EXPECT_EQ(lazy.fields.at("bound").text, "memory");
  const Json& libtorch = chain.fields.at("modes").items.at(2);
  EXPECT_EQ(libtorch.fields.at("kernels_per_iteration").kind, Json::Null);
  EXPECT_EQ(j.fields["workloads"].items.at(1).fields.at("name").text, "a&b<\"c\">.kir");
}

TEST(KilnBenchSvg, WellFormedAndNamesEveryRow) {
  bt::Report r = madeUpReport();
  const std::string svg = bt::svgText(r);
  std::vector<std::string> texts;
  std::string error;
  ASSERT_TRUE(wellFormedXml(svg, &texts, &error)) << error << "\n" << svg;
  auto has_text = [&](const std::string& t) {
    for (const std::string& s : texts) {
      if (s.find(t) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_text("chain"));
  EXPECT_TRUE(has_text("a&amp;b&lt;&quot;c&quot;&gt;.kir"));
  EXPECT_TRUE(has_text("lazy"));
  EXPECT_TRUE(has_text("eager"));
  EXPECT_TRUE(has_text("libtorch 1.13.1"));
  // One bar per workload and mode, 3 + 2, each with a tooltip and its median as a label.
  size_t bars = 0;
  for (size_t k = svg.find("<title>"); k != std::string::npos; k = svg.find("<title>", k + 1)) {
    ++bars;
  }
  EXPECT_EQ(bars, 5u);
  EXPECT_TRUE(has_text("40.00 ms"));
  // 0.9 to 40 ms is a spread of 40: a log scale. Without libtorch, 1 to 4 ms: a linear one.
  EXPECT_NE(svg.find("log scale"), std::string::npos);
  r.libtorch.clear();
  for (bt::WorkloadResult& w : r.rows) {
    if (w.modes.size() == 3) w.modes.pop_back();
  }
  EXPECT_EQ(bt::svgText(r).find("log scale"), std::string::npos);
}

// ---- the machine-limits cache ----

TEST(KilnBenchMachine, CacheLinesRoundTripAndBadLinesAreSkipped) {
  std::vector<bt::CachedLimits> entries = {{"AMD EPYC 7B13", 2, "avx2+fma", 19.9, 140.25},
                                           {"Intel Xeon", 1, "avx512f", 12.5, 95.0}};
  std::string text = bt::formatLimitsCache(entries);
  text += "broken line\nX\tnot-a-number\tavx2\t1\t2\nY\t1\tavx2\t-1\t2\n";
  std::vector<bt::CachedLimits> back = bt::parseLimitsCache(text);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].cpu, "AMD EPYC 7B13");
  EXPECT_EQ(back[0].threads, 2);
  EXPECT_EQ(back[0].isa, "avx2+fma");
  EXPECT_NEAR(back[0].gbytes_per_s, 19.9, 1e-9);
  EXPECT_NEAR(back[0].gflops, 140.25, 1e-9);
  EXPECT_EQ(back[1].cpu, "Intel Xeon");
}

TEST(KilnBenchSuite, ResultsAgreeWithinRounding) {
  EXPECT_EQ(bt::compareResults({1, 2, NAN}, {1, 2.0001f, NAN}), "");
  EXPECT_NE(bt::compareResults({1, 2}, {1, 2.1f}), "");
  EXPECT_NE(bt::compareResults({1, 2}, {1}), "");
  EXPECT_NE(bt::compareResults({NAN}, {1}), "");
}

// ---- the tool ----

ToolResult bench(const std::string& args, const std::string& environment = "") {
  return runProgram(KILN_BENCH_TOOL, args, environment);
}

class KilnBenchTool : public kiln::test_support::ToolTest {
 protected:
  // exp(x * y) + x on two params of 64 floats: one kernel lazily, three (mul, exp, add) eagerly;
  // 2 loads and a store of 256 bytes each and 3 FLOPs per element.
  std::string smallGraph() {
    const std::string p = path("small.kir");
    std::ofstream(p) << "graph {\n"
                        "  %0 = param 0 : f32[64]\n"
                        "  %1 = param 1 : f32[64]\n"
                        "  %2 = mul %0, %1 : f32[64]\n"
                        "  %3 = exp %2 : f32[64]\n"
                        "  %4 = add %3, %0 : f32[64]\n"
                        "  return %4\n"
                        "}\n";
    return p;
  }
  static std::string readFile(const std::string& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
};

TEST_F(KilnBenchTool, Help) {
  ToolResult r = bench("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  for (const char* text :
       {"usage: kiln-bench [options] [FILE.kir ...]", "chain", "softmax", "layernorm_gelu",
        "matmul", "mlp_train", "small_loop", "--threads", "--rounds", "--size", "--device",
        "--json", "--svg", "--machine-limits", "--input"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text;
  }
}

TEST_F(KilnBenchTool, UsageErrorsAndFailures) {
  const std::string graph = smallGraph();
  struct Case {
    std::string args, message;
    int status;
  };
  const Case cases[] = {
      {"--frob", "kiln-bench: unknown option '--frob'", 2},
      {"--rounds 0", "--rounds takes a positive integer, got '0'", 2},
      {"--rounds", "option --rounds needs a value", 2},
      {"--threads 2,x", "--threads takes positive thread counts", 2},
      {"--workloads chain,nope", "unknown workload 'nope'", 2},
      {"--workloads none", "nothing to run", 2},
      {"--size huge", "--size takes 'full' or 'small', got 'huge'", 2},
      {"--machine-limits 10", "--machine-limits takes GBPS,GFLOPS", 2},
      {"--kernels=yes", "--kernels takes no value", 2},
      {"--input 0=x.npy", "--input needs exactly one FILE", 2},
      {"'" + graph + "' --input 0", "--input takes K=PATH", 2},
      {"--device tpu", "--device takes cpu or cuda, got 'tpu'", 2},
      {"--device cuda", "kiln-bench: --device cuda: not supported yet", 1},
      {"--device cuda:0", "not supported yet", 1},
      {"'" + path("missing.kir") + "'", "missing.kir: cannot open file", 1},
      {"'" + graph + "' --input 5='" + path("x.npy") + "'", "the graph has 2 params", 1},
  };
  for (const Case& c : cases) {
    ToolResult r = bench(c.args);
    EXPECT_EQ(r.status, c.status) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << c.args;
    if (c.status == 2) {
      EXPECT_NE(r.err.find("Try 'kiln-bench --help'."), std::string::npos) << c.args;
    }
  }
}

TEST_F(KilnBenchTool, TableJsonAndSvgForAGraphFile) {
  const std::string graph = smallGraph(), json = path("out.json"), svg = path("out.svg");
  ToolResult r = bench("'" + graph + "' --rounds 2 --threads 1 --machine-limits 10,100 --json '" +
                       json + "' --svg '" + svg + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "") << "no progress line when stderr is not a terminal";
  EXPECT_NE(r.out.find("machine limits at 1 thread: memory 10.0 GB/s (triad), FMA peak 100.0 "
                       "GFLOP/s (given: --machine-limits)"),
            std::string::npos)
      << r.out;
  std::string header;
  auto rows = tableRows(r.out, &header);
  ASSERT_EQ(rows.size(), 2u) << r.out;  // lazy and eager; no libtorch row for a graph file
  EXPECT_EQ(rows[0][0], "small.kir");
  EXPECT_EQ(rows[0][1], "1");
  EXPECT_EQ(rows[0][2], "lazy");
  EXPECT_EQ(rows[0][7], "1") << "kernels: one fused kernel";
  EXPECT_EQ(rows[0][9], "1") << "compiled from empty caches";
  EXPECT_EQ(rows[0].size(), 15u);
  EXPECT_EQ(rows[1][0], "eager");
  EXPECT_EQ(rows[1][4], "1.00");
  EXPECT_EQ(rows[1][5], "3") << "kernels: mul, exp, add";
  EXPECT_NE(r.out.find("small.kir: " + graph + ": 5 instructions, 2 params, 1 output"),
            std::string::npos);

  Json j;
  const std::string text = readFile(json);
  ASSERT_TRUE(JsonParser(text).parse(&j)) << text;
  ASSERT_EQ(j.fields["workloads"].items.size(), 1u);
  const Json& w = j.fields["workloads"].items[0];
  EXPECT_EQ(w.fields.at("bytes_per_iteration").number, 3 * 64 * 4);
  EXPECT_EQ(w.fields.at("flops_per_iteration").number, 3 * 64);
  ASSERT_EQ(w.fields.at("modes").items.size(), 2u);
  for (const Json& m : w.fields.at("modes").items) {
    EXPECT_EQ(m.fields.at("samples_ms").items.size(), 2u);
    EXPECT_EQ(m.fields.at("steady_kernels_compiled").number, 0);
  }

  std::vector<std::string> texts;
  std::string error;
  ASSERT_TRUE(wellFormedXml(readFile(svg), &texts, &error)) << error;
  bool named = false;
  for (const std::string& t : texts) named = named || t == "small.kir";
  EXPECT_TRUE(named);
}

TEST_F(KilnBenchTool, BuiltInWorkloadsAgreeAcrossModes) {
  ToolResult r = bench(
      "--workloads chain,small_loop --size small --rounds 1 --threads 1 --machine-limits 10,100");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  std::string header;
  auto rows = tableRows(r.out, &header);
  ASSERT_GE(rows.size(), 4u) << r.out;  // lazy and eager of each, libtorch where built with it
  EXPECT_EQ(rows[0][0], "chain");
  EXPECT_EQ(rows[0][7], "1") << "the chain is one kernel lazily";
  EXPECT_EQ(r.out.find("MISMATCH"), std::string::npos) << r.out;
}

TEST_F(KilnBenchTool, MachineLimitsAreMeasuredOnceAndCached) {
  const std::string env = "XDG_CACHE_HOME='" + path("cache") + "'";
  const std::string args =
      "--workloads small_loop --size small --rounds 1 --threads 1 --no-libtorch";
  ToolResult first = bench(args, env);
  ASSERT_EQ(first.status, 0) << first.err;
  const std::string cache = path("cache") + "/kiln/machine-limits.tsv";
  EXPECT_NE(first.out.find("measured now; cached in " + cache), std::string::npos) << first.out;
  std::vector<bt::CachedLimits> entries = bt::parseLimitsCache(readFile(cache));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].cpu, bt::cpuModel());
  EXPECT_EQ(entries[0].threads, 1);
  EXPECT_GT(entries[0].gbytes_per_s, 0);
  EXPECT_GT(entries[0].gflops, 0);
  ToolResult second = bench(args, env);
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.out.find("(cached in " + cache + ")"), std::string::npos) << second.out;
  EXPECT_EQ(bt::parseLimitsCache(readFile(cache)).size(), 1u);
}

}  // namespace
