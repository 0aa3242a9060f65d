#include "lib/core/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "lib/core/scalar_type.h"

// A line-for-line port of torch/_tensor_str.py (_Formatter, _vector_str,
// _tensor_str_with_formatter, get_summarized_data, _add_suffixes and the empty-tensor branch of
// _str_intern), fixed to the default print options. Function names follow the Python ones so the
// two can be compared side by side when PyTorch changes.

namespace kiln::detail {
namespace {

constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;
constexpr std::string_view kPrefix = "tensor(";

// Python's float.__format__ never prints a sign on NaN, while glibc prints "-nan" for the
// negative NaN that 0/0 produces on x86; everything else (correct rounding, half-to-even,
// two-digit exponents, "inf") is the same in both.
std::string pyFormat(double v, char conversion, int precision, int width = 0) {
  if (std::isnan(v)) {
    std::string s = "nan";
    if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), ' ');
    return s;
  }
  // "%.0f" of the largest double has 309 digits.
  char buf[400];
  if (conversion == 'e') {
    std::snprintf(buf, sizeof buf, "%*.*e", width, precision, v);
  } else {
    std::snprintf(buf, sizeof buf, "%*.*f", width, precision, v);
  }
  return buf;
}

class Elements {
 public:
  Elements(ScalarType dtype, const void* data) : dtype_(dtype), data_(data) {}

  double asDouble(int64_t i) const { return loadElement(data_, dtype_, i); }

  // str() of the Python int or bool that tolist() yields; floating types go through Formatter.
  std::string integralStr(int64_t i) const {
    return visitType(dtype_, [&]<typename T>() -> std::string {
      if constexpr (std::is_same_v<T, bool>) {
        return loadAs<bool>(data_, i) ? "True" : "False";
      } else if constexpr (std::is_integral_v<T>) {
        return std::to_string(loadAs<T>(data_, i));
      } else {
        return {};
      }
    });
  }

 private:
  ScalarType dtype_;
  const void* data_;
};

class Formatter {
 public:
  // `sample` holds the flat indices of the elements PyTorch measures: all of them, or the
  // get_summarized_data() corners when the tensor is summarised.
  Formatter(const Elements& elements, ScalarType dtype, const std::vector<int64_t>& sample)
      : elements_(elements), floating_(isFloatingType(dtype)) {
    if (!floating_) {
      for (int64_t i : sample) {
        maxWidth_ = std::max(maxWidth_, static_cast<int>(elements_.integralStr(i).size()));
      }
      return;
    }

    std::vector<double> nonzeroFinite;
    for (int64_t i : sample) {
      double v = elements_.asDouble(i);
      if (std::isfinite(v) && v != 0) nonzeroFinite.push_back(v);
    }
    if (nonzeroFinite.empty()) return;

    double minAbs = std::abs(nonzeroFinite[0]);
    double maxAbs = minAbs;
    for (double v : nonzeroFinite) {
      minAbs = std::min(minAbs, std::abs(v));
      maxAbs = std::max(maxAbs, std::abs(v));
      if (v != std::ceil(v)) intMode_ = false;
    }
    sciMode_ = maxAbs / minAbs > 1000.0 || maxAbs > 1.0e8 || minAbs < 1.0e-4;

    for (double v : nonzeroFinite) {
      int len;
      if (sciMode_) {
        len = static_cast<int>(pyFormat(v, 'e', kPrecision).size());
      } else if (intMode_) {
        // One more for the "." that marks an integral float as floating.
        len = static_cast<int>(pyFormat(v, 'f', 0).size()) + 1;
      } else {
        len = static_cast<int>(pyFormat(v, 'f', kPrecision).size());
      }
      maxWidth_ = std::max(maxWidth_, len);
    }
  }

  int width() const { return maxWidth_; }

  std::string format(int64_t i) const {
    std::string ret;
    if (floating_) {
      double v = elements_.asDouble(i);
      if (sciMode_) {
        ret = pyFormat(v, 'e', kPrecision, maxWidth_);
      } else if (intMode_) {
        ret = pyFormat(v, 'f', 0);
        if (std::isfinite(v)) ret += '.';
      } else {
        ret = pyFormat(v, 'f', kPrecision);
      }
    } else {
      ret = elements_.integralStr(i);
    }
    // Values the width was not measured on (zeros, nan, inf, -0.) may be longer; Python's
    // negative repeat count gives no padding then.
    if (static_cast<int>(ret.size()) < maxWidth_) ret.insert(0, maxWidth_ - ret.size(), ' ');
    return ret;
  }

 private:
  const Elements& elements_;
  bool floating_;
  bool intMode_ = true;
  bool sciMode_ = false;
  int maxWidth_ = 1;
};

class Printer {
 public:
  Printer(const std::vector<int64_t>& sizes, bool summarize, const Formatter& formatter)
      : sizes_(sizes), strides_(sizes.size(), 1), summarize_(summarize), formatter_(formatter) {
    for (size_t d = sizes_.size(); d-- > 1;) strides_[d - 1] = strides_[d] * sizes_[d];
  }

  // _tensor_str_with_formatter for the sub-tensor starting at dimension `dim`.
  std::string tensorStr(size_t dim, int64_t offset, int indent) const {
    if (sizes_.empty()) return formatter_.format(0);
    if (dim + 1 == sizes_.size()) return vectorStr(offset, indent);

    std::vector<std::string> slices;
    int64_t n = sizes_[dim];
    auto slice = [&](int64_t i) {
      slices.push_back(tensorStr(dim + 1, offset + i * strides_[dim], indent + 1));
    };
    if (summarize_ && n > 2 * kEdgeItems) {
      for (int64_t i = 0; i < kEdgeItems; ++i) slice(i);
      slices.emplace_back("...");
      for (int64_t i = n - kEdgeItems; i < n; ++i) slice(i);
    } else {
      for (int64_t i = 0; i < n; ++i) slice(i);
    }

    size_t remainingDims = sizes_.size() - dim;
    std::string separator =
        "," + std::string(remainingDims - 1, '\n') + std::string(indent + 1, ' ');
    return "[" + join(slices, separator) + "]";
  }

 private:
  // _vector_str
  std::string vectorStr(int64_t offset, int indent) const {
    // Each element also takes ", ".
    int elementLength = formatter_.width() + 2;
    int elementsPerLine = std::max(1, (kLineWidth - indent) / elementLength);

    std::vector<std::string> data;
    int64_t n = sizes_.back();
    if (summarize_ && n > 2 * kEdgeItems) {
      for (int64_t i = 0; i < kEdgeItems; ++i) data.push_back(formatter_.format(offset + i));
      data.emplace_back(" ...");
      for (int64_t i = n - kEdgeItems; i < n; ++i) data.push_back(formatter_.format(offset + i));
    } else {
      for (int64_t i = 0; i < n; ++i) data.push_back(formatter_.format(offset + i));
    }

    std::vector<std::string> lines;
    for (size_t i = 0; i < data.size(); i += elementsPerLine) {
      size_t end = std::min(data.size(), i + elementsPerLine);
      lines.push_back(join(std::vector<std::string>(data.begin() + i, data.begin() + end), ", "));
    }
    return "[" + join(lines, ",\n" + std::string(indent + 1, ' ')) + "]";
  }

  static std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += separator;
      out += parts[i];
    }
    return out;
  }

  const std::vector<int64_t>& sizes_;
  std::vector<int64_t> strides_;
  bool summarize_;
  const Formatter& formatter_;
};

// The flat indices of get_summarized_data(t): along every dimension longer than 2 * edgeitems only
// the first and last edgeitems entries are kept.
void collectSample(const std::vector<int64_t>& sizes, bool summarize, size_t dim, int64_t offset,
                   std::vector<int64_t>& out) {
  if (dim == sizes.size()) {
    out.push_back(offset);
    return;
  }
  int64_t stride = 1;
  for (size_t d = dim + 1; d < sizes.size(); ++d) stride *= sizes[d];
  int64_t n = sizes[dim];
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) i = n - kEdgeItems;
    collectSample(sizes, summarize, dim + 1, offset + i * stride, out);
  }
}

std::string shapeTuple(const std::vector<int64_t>& sizes) {
  std::string s = "(";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(sizes[i]);
  }
  if (sizes.size() == 1) s += ",";
  return s + ")";
}

// _add_suffixes
std::string addSuffixes(const std::string& tensorStr, const std::vector<std::string>& suffixes,
                        int indent) {
  std::string out = tensorStr;
  // Python computes len - rfind("\n") + 1, which is the last line's length plus 2 (also when
  // there is no newline, as rfind gives -1); kept as is since it decides where lines break.
  size_t newline = tensorStr.rfind('\n');
  int64_t lastLineLen = static_cast<int64_t>(tensorStr.size()) -
                        (newline == std::string::npos ? -1 : static_cast<int64_t>(newline)) + 1;
  for (const std::string& suffix : suffixes) {
    auto suffixLen = static_cast<int64_t>(suffix.size());
    if (lastLineLen + suffixLen + 2 > kLineWidth) {
      out += ",\n" + std::string(indent, ' ') + suffix;
      lastLineLen = indent + suffixLen;
    } else {
      out += ", " + suffix;
      lastLineLen += suffixLen + 2;
    }
  }
  return out + ")";
}

}  // namespace

std::string formatTensor(const FormatRequest& r) {
  const int indent = static_cast<int>(kPrefix.size());
  int64_t numel = 1;
  for (int64_t s : r.sizes) numel *= s;

  std::vector<std::string> suffixes = r.suffixes;
  std::string body;
  if (numel == 0) {
    // PyTorch shows the shape of empty tensors unless it is (0,), as NumPy does.
    if (r.sizes.size() != 1) {
      auto it = suffixes.begin();
      while (it != suffixes.end() && it->starts_with("device=")) ++it;
      suffixes.insert(it, "size=" + shapeTuple(r.sizes));
    }
    body = "[]";
  } else {
    bool summarize = numel > kThreshold;
    std::vector<int64_t> sample;
    collectSample(r.sizes, summarize, 0, 0, sample);
    Elements elements(r.dtype, r.data);
    Formatter formatter(elements, r.dtype, sample);
    body = Printer(r.sizes, summarize, formatter).tensorStr(0, 0, indent);
  }
  return addSuffixes(std::string(kPrefix) + body, suffixes, indent);
}

}  // namespace kiln::detail
