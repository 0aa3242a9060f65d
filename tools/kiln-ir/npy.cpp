#include "tools/kiln-ir/npy.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "kiln/error.h"

namespace kiln::tools {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// Bounds what a hostile header can make us allocate or multiply (the graph limit is 2^40).
constexpr int64_t kMaxElements = int64_t{1} << 40;

struct Descr {
  const char* text;
  ScalarType dtype;
};
// bfloat16 has no NumPy dtype, so it has no row: formatNpy refuses it.
constexpr Descr kDescrs[] = {
    {"<f4", ScalarType::Float}, {"<f8", ScalarType::Double}, {"<f2", ScalarType::Half},
    {"<i4", ScalarType::Int},   {"<i8", ScalarType::Long},   {"<i2", ScalarType::Short},
    {"|i1", ScalarType::Char},  {"|u1", ScalarType::Byte},   {"|b1", ScalarType::Bool}};

// The header is a Python dict literal; this reads exactly what numpy.save writes (and the
// spacing variations other writers use), nothing more.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view s) : s_(s) {}

  bool parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape, std::string* err) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!take('{')) return fail(err, "the header is not a dict");
    while (!take('}')) {
      std::string key;
      if (!quoted(&key)) return fail(err, "expected a quoted key in the header");
      if (!take(':')) return fail(err, "expected ':' after a key in the header");
      if (key == "descr") {
        if (!quoted(descr)) return fail(err, "'descr' must be a string such as '<f4'");
        have_descr = true;
      } else if (key == "fortran_order") {
        if (word("True")) {
          *fortran = true;
        } else if (word("False")) {
          *fortran = false;
        } else {
          return fail(err, "'fortran_order' must be True or False");
        }
        have_fortran = true;
      } else if (key == "shape") {
        if (!tuple(shape)) return fail(err, "'shape' must be a tuple of non-negative integers");
        have_shape = true;
      } else {
        return fail(err, absl::StrCat("unexpected key '", key, "' in the header"));
      }
      if (!take(',')) {
        if (!take('}')) return fail(err, "expected ',' or '}' in the header");
        break;
      }
    }
    if (!have_descr || !have_fortran || !have_shape)
      return fail(err, "the header needs 'descr', 'fortran_order' and 'shape'");
    return true;
  }

 private:
  static bool fail(std::string* err, std::string msg) {
    *err = std::move(msg);
    return false;
  }
  void spaces() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool take(char c) {
    spaces();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    spaces();
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  bool quoted(std::string* out) {
    spaces();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return false;
    char q = s_[pos_++];
    size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) return false;
    *out = std::string(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return true;
  }
  bool tuple(std::vector<int64_t>* out) {
    out->clear();
    if (!take('(')) return false;
    if (take(')')) return true;
    for (;;) {
      spaces();
      size_t start = pos_;
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (v > kMaxElements) return false;
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (pos_ == start) return false;
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs
      out->push_back(v);
      if (out->size() > 64) return false;
      if (take(')')) return true;
      if (!take(',')) return false;
      if (take(')')) return true;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

std::string shapeText(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t x : shape) n *= x;
  return n;
}

bool parseNpy(const std::string& bytes, NpyArray* out, std::string* error) {
  if (bytes.size() < kMagicLen + 2 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0) {
    *error = "not a .npy file (no \\x93NUMPY magic string)";
    return false;
  }
  const auto major = static_cast<unsigned char>(bytes[6]);
  const auto minor = static_cast<unsigned char>(bytes[7]);
  size_t len_bytes = major == 1 ? 2 : major == 2 ? 4 : 0;
  if (len_bytes == 0 || minor != 0) {
    *error = absl::StrCat("unsupported .npy format version ", major, ".", minor,
                          " (1.0 and 2.0 are supported)");
    return false;
  }
  size_t start = kMagicLen + 2;
  if (bytes.size() < start + len_bytes) {
    *error = "truncated .npy header";
    return false;
  }
  size_t header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i)
    header_len |= size_t{static_cast<unsigned char>(bytes[start + i])} << (8 * i);
  start += len_bytes;
  if (bytes.size() - start < header_len) {
    *error = "truncated .npy header";
    return false;
  }
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  HeaderReader reader(std::string_view(bytes).substr(start, header_len));
  if (!reader.parse(&descr, &fortran, &shape, error)) {
    *error = absl::StrCat("bad .npy header: ", *error);
    return false;
  }
  const Descr* found = nullptr;
  for (const Descr& d : kDescrs) {
    if (descr == d.text) found = &d;
  }
  if (!found) {
    *error = absl::StrCat("unsupported dtype '", descr,
                          "' (supported: <f4 <f8 <i4 <i8 |b1, little-endian)");
    return false;
  }
  if (fortran) {
    *error = "Fortran-order arrays are not supported (save numpy.ascontiguousarray(a) instead)";
    return false;
  }
  int64_t numel = 1;
  for (int64_t x : shape) {
    if (x != 0 && numel > kMaxElements / x) {
      *error = "the array has more than 2^40 elements";
      return false;
    }
    numel *= x;
  }
  size_t want = static_cast<size_t>(numel) * elementSize(found->dtype);
  size_t have = bytes.size() - start - header_len;
  if (have != want) {
    *error = absl::StrCat("the data is ", have, " bytes; shape ", shapeText(shape), " of ", descr,
                          " needs ", want);
    return false;
  }
  out->dtype = found->dtype;
  out->shape = std::move(shape);
  out->data = bytes.substr(start + header_len);
  if (out->dtype == ScalarType::Bool) {
    for (char& c : out->data) c = c != 0;
  }
  return true;
}

std::string formatNpy(const NpyArray& a) {
  const char* descr = nullptr;
  for (const Descr& d : kDescrs) {
    if (d.dtype == a.dtype) descr = d.text;
  }
  if (descr == nullptr) {
    throw Error(absl::StrCat("cannot write a ", std::string(pythonName(a.dtype)),
                             " array as .npy: NumPy has no ", std::string(pythonName(a.dtype)),
                             " dtype"));
  }
  std::string header = absl::StrCat(
      "{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shapeText(a.shape), ", }");
  // NumPy pads with spaces and ends with '\n' so that the data starts 64-byte aligned.
  auto padded = [&](size_t len_bytes) {
    std::string h = header;
    size_t total = kMagicLen + 2 + len_bytes + h.size() + 1;
    h.append((64 - total % 64) % 64, ' ');
    h.push_back('\n');
    return h;
  };
  size_t len_bytes = 2;
  uint8_t major = 1;
  std::string h = padded(len_bytes);
  if (h.size() > 0xffff) {
    len_bytes = 4;
    major = 2;
    h = padded(len_bytes);
  }
  header = std::move(h);
  std::string out(kMagic, kMagicLen);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  for (size_t i = 0; i < len_bytes; ++i)
    out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  out += header;
  out += a.data;
  return out;
}

bool readNpy(const std::string& path, NpyArray* out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = absl::StrCat(path, ": cannot open file");
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  if (!parseNpy(ss.str(), out, error)) {
    *error = absl::StrCat(path, ": ", *error);
    return false;
  }
  return true;
}

bool writeNpy(const std::string& path, const NpyArray& a, std::string* error) {
  std::string bytes = formatNpy(a);  // first: a type NumPy lacks leaves no file behind
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) {
    *error = absl::StrCat(path, ": cannot write file");
    return false;
  }
  return true;
}

}  // namespace kiln::tools
