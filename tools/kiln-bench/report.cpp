#include "tools/kiln-bench/report.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <cmath>

#include "tools/kiln-ir/stages.h"

namespace kiln::bench_tool {
namespace {

namespace prof = runtime::profiler;

constexpr Mode kModes[] = {Mode::Lazy, Mode::Eager, Mode::Libtorch};

// A number as JSON has it: finite, or null.
std::string jsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.9g", v);
}

std::string xmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string rooflineText(const prof::Rates& rt, const prof::MachineLimits& limits) {
  if (!limits.known()) return "-";
  return absl::StrFormat("%.0f%% %s", 100 * rt.roofline_share, rt.memory_bound ? "mem" : "fma");
}

// "201.3 MB", "1.34 GFLOP": work figures for the legend.
std::string scaled(double v, std::string_view unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T"};
  int p = 0;
  while (std::fabs(v) >= 1000 && p < 4) {
    v /= 1000;
    ++p;
  }
  return absl::StrFormat("%.4g %s%s", v, prefixes[p], unit);
}

}  // namespace

const char* modeName(Mode m) {
  switch (m) {
    case Mode::Lazy:
      return "lazy";
    case Mode::Eager:
      return "eager";
    case Mode::Libtorch:
      return "libtorch";
  }
  return "?";
}

void summarise(ModeResult* r) {
  if (r->sample_ms.empty()) return;
  std::vector<double> s = r->sample_ms;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  r->median_ms = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  r->min_ms = s.front();
  r->max_ms = s.back();
}

const ModeResult* WorkloadResult::mode(Mode m) const {
  for (const ModeResult& r : modes) {
    if (r.mode == m) return &r;
  }
  return nullptr;
}

prof::MachineLimits Report::limitsAt(int threads) const {
  for (const MachineRow& m : machine) {
    if (m.threads == threads) return {m.gbytes_per_s, m.gflops};
  }
  return {};
}

prof::Rates rowRates(const WorkloadResult& w, const ModeResult& m,
                     const prof::MachineLimits& limits) {
  return prof::rates(w.bytes, w.flops, std::llround(m.median_ms * 1e6), limits);
}

std::string formatMs(double ms) {
  if (!std::isfinite(ms)) return "-";
  if (ms >= 1000) return absl::StrFormat("%.0f", ms);
  if (ms <= 0) return "0";
  // Four significant digits: 3 decimals at 1 ms, one more for every factor of 10 below.
  const int decimals = std::max(1, 3 - static_cast<int>(std::floor(std::log10(ms))));
  return absl::StrFormat("%.*f", decimals, ms);
}

std::string tableText(const Report& r) {
  std::string out = absl::StrCat("kiln-bench: ", r.cpu, " (", r.isa, ")",
                                 r.libtorch.empty() ? "" : absl::StrCat(", ", r.libtorch), "\n");
  for (const MachineRow& m : r.machine) {
    absl::StrAppendFormat(&out,
                          "machine limits at %s: memory %.1f GB/s (triad), FMA peak %.1f "
                          "GFLOP/s (%s)\n",
                          tools::plural(m.threads, "thread", "threads"), m.gbytes_per_s, m.gflops,
                          m.source);
  }
  size_t name_width = 8;
  for (const WorkloadResult& w : r.rows) name_width = std::max(name_width, w.name.size());
  const int nw = static_cast<int>(name_width);
  absl::StrAppendFormat(
      &out, "\n%-*s  %7s  %-8s  %10s  %10s  %10s  %7s  %7s  %9s  %8s  %10s  %8s  %8s  %8s\n", nw,
      "workload", "threads", "mode", "median ms", "min ms", "max ms", "/ eager", "kernels",
      "cold ms", "compiled", "compile ms", "GB/s", "GFLOP/s", "roofline");
  for (const WorkloadResult& w : r.rows) {
    const ModeResult* eager = w.mode(Mode::Eager);
    const prof::MachineLimits limits = r.limitsAt(w.threads);
    bool first = true;
    for (Mode mode : kModes) {
      const ModeResult* m = w.mode(mode);
      if (m == nullptr) continue;
      const bool kiln_mode = m->kernels_per_iteration >= 0;
      const prof::Rates rt = rowRates(w, *m, limits);
      std::string vs_eager = eager != nullptr && eager->median_ms > 0
                                 ? absl::StrFormat("%.2f", m->median_ms / eager->median_ms)
                                 : "-";
      absl::StrAppendFormat(
          &out, "%-*s  %7s  %-8s  %10s  %10s  %10s  %7s  %7s  %9s  %8s  %10s  %8s  %8s  %8s\n", nw,
          first ? w.name : "", first ? absl::StrCat(w.threads) : "", modeName(mode),
          formatMs(m->median_ms), formatMs(m->min_ms), formatMs(m->max_ms), vs_eager,
          kiln_mode ? absl::StrFormat("%.4g", m->kernels_per_iteration) : "-", formatMs(m->cold_ms),
          m->cold_compiled >= 0 ? absl::StrCat(m->cold_compiled) : "-",
          m->cold_compile_ms >= 0 ? formatMs(m->cold_compile_ms) : "-",
          w.bytes > 0 ? absl::StrFormat("%.2f", rt.gbytes_per_s) : "-",
          w.flops > 0 ? absl::StrFormat("%.2f", rt.gflops) : "-",
          w.bytes > 0 || w.flops > 0 ? rooflineText(rt, limits) : "-");
      first = false;
    }
  }
  out += "\n";
  std::vector<std::string> described;
  for (const WorkloadResult& w : r.rows) {
    if (std::find(described.begin(), described.end(), w.name) != described.end()) continue;
    described.push_back(w.name);
    absl::StrAppend(&out, w.name, ": ", w.description, "; per iteration ",
                    scaled(static_cast<double>(w.bytes), "B"), ", ",
                    scaled(static_cast<double>(w.flops), "FLOP"), "\n");
  }
  for (const WorkloadResult& w : r.rows) {
    for (const ModeResult& m : w.modes) {
      if (m.steady_compiled > 0) {
        absl::StrAppendFormat(&out, "note: %s (%s, %s) compiled %s while timed\n", w.name,
                              modeName(m.mode), tools::plural(w.threads, "thread", "threads"),
                              tools::plural(m.steady_compiled, "kernel", "kernels"));
      }
    }
    if (!w.mismatch.empty()) {
      absl::StrAppendFormat(&out, "MISMATCH: %s (%s): %s\n", w.name,
                            tools::plural(w.threads, "thread", "threads"), w.mismatch);
    }
  }
  out +=
      "\nTimes are per iteration: the median, least and greatest of the rounds (modes interleaved "
      "round by round).\n"
      "/ eager: the median over eager mode's (below 1: faster than eager). kernels: kernels run "
      "per iteration.\n"
      "cold ms, compiled, compile ms: the first iteration from empty caches, the kernels it "
      "compiled and the JIT's part of it.\n"
      "GB/s, GFLOP/s: the lazy kernels' bytes and FLOPs (kiln's profiler estimate) over the "
      "row's median, the same work for every row\n"
      "of a workload; roofline: the time the machine's limits allow that work over the median "
      "(mem: bandwidth binds, fma: the peak).\n";
  for (const WorkloadResult& w : r.rows) {
    if (!w.kernel_table.empty()) {
      absl::StrAppend(&out, "\nkernels of one lazy iteration of ", w.name, " (",
                      tools::plural(w.threads, "thread", "threads"), "):\n", w.kernel_table);
    }
  }
  return out;
}

std::string jsonText(const Report& r) {
  using prof::jsonString;
  std::string out =
      absl::StrCat("{\n  \"tool\": \"kiln-bench\",\n  \"cpu\": ", jsonString(r.cpu),
                   ",\n  \"isa\": ", jsonString(r.isa),
                   ",\n  \"libtorch\": ", jsonString(r.libtorch), ",\n  \"machine\": [");
  for (size_t i = 0; i < r.machine.size(); ++i) {
    const MachineRow& m = r.machine[i];
    absl::StrAppend(&out, i ? "," : "", "\n    {\"threads\": ", m.threads,
                    ", \"memory_gbytes_per_s\": ", jsonNumber(m.gbytes_per_s),
                    ", \"fma_gflops\": ", jsonNumber(m.gflops),
                    ", \"source\": ", jsonString(m.source), "}");
  }
  out += "\n  ],\n  \"workloads\": [";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const WorkloadResult& w = r.rows[i];
    const prof::MachineLimits limits = r.limitsAt(w.threads);
    absl::StrAppend(&out, i ? "," : "", "\n    {\"name\": ", jsonString(w.name),
                    ", \"description\": ", jsonString(w.description), ", \"threads\": ", w.threads,
                    ", \"bytes_per_iteration\": ", w.bytes, ", \"flops_per_iteration\": ", w.flops,
                    ", \"mismatch\": ", jsonString(w.mismatch), ",\n     \"modes\": [");
    for (size_t j = 0; j < w.modes.size(); ++j) {
      const ModeResult& m = w.modes[j];
      const prof::Rates rt = rowRates(w, m, limits);
      std::string samples;
      for (size_t k = 0; k < m.sample_ms.size(); ++k) {
        absl::StrAppend(&samples, k ? ", " : "", jsonNumber(m.sample_ms[k]));
      }
      absl::StrAppend(
          &out, j ? "," : "", "\n      {\"mode\": ", jsonString(modeName(m.mode)),
          ", \"median_ms\": ", jsonNumber(m.median_ms), ", \"min_ms\": ", jsonNumber(m.min_ms),
          ", \"max_ms\": ", jsonNumber(m.max_ms), ", \"samples_ms\": [", samples,
          "], \"iterations_per_sample\": ", m.iterations_per_sample,
          ", \"kernels_per_iteration\": ",
          m.kernels_per_iteration >= 0 ? jsonNumber(m.kernels_per_iteration) : "null",
          ", \"cold_ms\": ", jsonNumber(m.cold_ms), ", \"cold_kernels_compiled\": ",
          m.cold_compiled >= 0 ? absl::StrCat(m.cold_compiled) : "null", ", \"cold_compile_ms\": ",
          m.cold_compile_ms >= 0 ? jsonNumber(m.cold_compile_ms) : "null",
          ", \"steady_kernels_compiled\": ", m.steady_compiled,
          ", \"gbytes_per_s\": ", jsonNumber(rt.gbytes_per_s),
          ", \"gflops\": ", jsonNumber(rt.gflops),
          ", \"roofline_share\": ", limits.known() ? jsonNumber(rt.roofline_share) : "null",
          ", \"bound\": ",
          limits.known() ? jsonString(rt.memory_bound ? "memory" : "compute") : "null", "}");
    }
    out += "]}";
  }
  out += "\n  ]\n}\n";
  return out;
}

std::string svgText(const Report& r) {
  // Layout, in pixels: labels on the left, bars to the right of them, one group of bars per row.
  constexpr double kLabelWidth = 210, kPlotWidth = 560, kValueWidth = 90, kBar = 16, kGap = 4,
                   kGroupGap = 14, kTop = 64, kAxis = 40;
  const char* colors[] = {"#e6550d", "#6baed6", "#74c476"};  // lazy, eager, libtorch
  double lo = 1e300, hi = 0;
  int bars = 0;
  for (const WorkloadResult& w : r.rows) {
    for (const ModeResult& m : w.modes) {
      if (m.median_ms > 0) {
        lo = std::min(lo, m.median_ms);
        hi = std::max(hi, m.median_ms);
        ++bars;
      }
    }
  }
  if (bars == 0) lo = hi = 1;
  const bool log_scale = hi / lo > kLogScaleSpread;
  // The axis: decades on a log scale (one below the shortest bar, so that it has a length), or
  // 0 to a round number above the longest bar.
  double axis_lo = 0, axis_hi = hi;
  if (log_scale) {
    axis_lo = std::pow(10.0, std::floor(std::log10(lo)));
    if (axis_lo >= lo) axis_lo /= 10;
    axis_hi = std::pow(10.0, std::ceil(std::log10(hi)));
  } else {
    const double step = std::pow(10.0, std::floor(std::log10(hi)));
    axis_hi = std::ceil(hi / step) * step;
  }
  auto x_of = [&](double ms) {
    double f = log_scale ? (std::log10(ms) - std::log10(axis_lo)) /
                               (std::log10(axis_hi) - std::log10(axis_lo))
                         : ms / axis_hi;
    return kLabelWidth + kPlotWidth * std::clamp(f, 0.0, 1.0);
  };
  double height = kTop;
  for (const WorkloadResult& w : r.rows) {
    height += static_cast<double>(w.modes.size()) * (kBar + kGap) + kGroupGap;
  }
  const double plot_bottom = height;
  height += kAxis;
  const double width = kLabelWidth + kPlotWidth + kValueWidth;

  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 "
      "%.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      width, height, width, height);
  std::string threads;
  for (const MachineRow& m : r.machine)
    absl::StrAppend(&threads, threads.empty() ? "" : ", ", m.threads);
  absl::StrAppendFormat(&out,
                        "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">kiln-bench: "
                        "median time per iteration (ms%s; shorter is faster)</text>\n"
                        "<text x=\"10\" y=\"38\" fill=\"#555\">%s</text>\n",
                        log_scale ? ", log scale" : "",
                        xmlEscape(absl::StrCat(r.cpu, ", kiln threads: ", threads)));
  // The legend, top right.
  double lx = kLabelWidth;
  for (Mode mode : kModes) {
    bool present = false;
    for (const WorkloadResult& w : r.rows) present = present || w.mode(mode) != nullptr;
    if (!present) continue;
    absl::StrAppendFormat(
        &out,
        "<rect x=\"%.1f\" y=\"46\" width=\"12\" height=\"12\" fill=\"%s\"/>"
        "<text x=\"%.1f\" y=\"56\">%s</text>\n",
        lx, colors[static_cast<int>(mode)], lx + 16,
        mode == Mode::Libtorch && !r.libtorch.empty() ? xmlEscape(r.libtorch) : modeName(mode));
    lx += 110;
  }
  // Grid lines and tick labels.
  std::vector<double> ticks;
  if (log_scale) {
    for (double t = axis_lo; t <= axis_hi * 1.0001; t *= 10) ticks.push_back(t);
  } else {
    double step = std::pow(10.0, std::floor(std::log10(axis_hi)));
    if (axis_hi / step <= 2) step /= 5;  // at least a few ticks
    for (double t = 0; t <= axis_hi * 1.0001; t += step) ticks.push_back(t);
  }
  for (double t : ticks) {
    const double x = log_scale ? x_of(t) : kLabelWidth + kPlotWidth * t / axis_hi;
    absl::StrAppendFormat(
        &out,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n",
        x, kTop - 4, x, plot_bottom, x, plot_bottom + 16, absl::StrFormat("%g", t));
  }
  absl::StrAppendFormat(&out,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">ms per "
                        "iteration</text>\n",
                        kLabelWidth + kPlotWidth / 2, plot_bottom + 34);
  double y = kTop;
  for (const WorkloadResult& w : r.rows) {
    const double group = static_cast<double>(w.modes.size()) * (kBar + kGap);
    std::string label =
        r.machine.size() > 1
            ? absl::StrCat(w.name, " (", tools::plural(w.threads, "thread", "threads"), ")")
            : w.name;
    absl::StrAppendFormat(&out,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                          "font-weight=\"bold\">%s</text>\n",
                          kLabelWidth - 8, y + group / 2 + 4, xmlEscape(label));
    for (Mode mode : kModes) {
      const ModeResult* m = w.mode(mode);
      if (m == nullptr) continue;
      const double x1 = m->median_ms > 0 ? x_of(m->median_ms) : kLabelWidth;
      absl::StrAppendFormat(&out,
                            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                            "fill=\"%s\"><title>%s %s: %s ms</title></rect>"
                            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s ms</text>\n",
                            kLabelWidth, y, std::max(1.0, x1 - kLabelWidth), kBar,
                            colors[static_cast<int>(mode)], xmlEscape(w.name), modeName(mode),
                            formatMs(m->median_ms), x1 + 4, y + kBar - 4, formatMs(m->median_ms));
      y += kBar + kGap;
    }
    y += kGroupGap;
  }
  absl::StrAppendFormat(&out,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                        kLabelWidth, kTop - 4, kLabelWidth, plot_bottom);
  out += "</svg>\n";
  return out;
}

}  // namespace kiln::bench_tool
