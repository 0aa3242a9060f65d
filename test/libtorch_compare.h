// The comparison behind the libtorch differential tests (autograd_libtorch_test.cpp,
// api_libtorch_test.cpp): a case is written once with K naming the library, compiled against kiln
// and against libtorch 1.13, and both runs must read out the same items or throw the same message.
#pragma once

#include <gtest/gtest.h>
#include <kiln/kiln.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace kiln_test {

// One thing a case reads out: a tensor (undefined, or its sizes and elements) or a text (a flag,
// a grad_fn's name).
struct Item {
  bool defined = true;
  std::vector<int64_t> sizes;
  std::vector<double> data;
  std::string text;
};
using Items = std::vector<Item>;

inline Item out(const kiln::Tensor& t) {
  if (!t.defined()) return Item{false, {}, {}, ""};
  kiln::Tensor c = t.detach().to(kiln::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  return Item{true, t.sizes().vec(), std::vector<double>(p, p + c.numel()), ""};
}

inline Item out(const torch::Tensor& t) {
  if (!t.defined()) return Item{false, {}, {}, ""};
  torch::Tensor c = t.detach().to(torch::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  return Item{true, t.sizes().vec(), std::vector<double>(p, p + c.numel()), ""};
}

inline Item out(bool b) {
  return Item{true, {}, {}, b ? "true" : "false"};
}

// The name of a tensor's grad_fn ("" for none), as Python prints it (PyTorch's C++ names of its
// own nodes carry their namespace).
template <typename T>
inline Item fnName(const T& t) {
  if (!t.grad_fn()) return Item{true, {}, {}, "None"};
  std::string n = t.grad_fn()->name();
  size_t colon = n.rfind("::");
  return Item{true, {}, {}, colon == std::string::npos ? n : n.substr(colon + 2)};
}

// A text a case reads out (a flag, a name, a message).
inline Item text(const std::string& s) {
  return Item{true, {}, {}, s};
}

// A dtype's name, as each library spells it (kiln follows c10's), and a tensor's as an item.
inline std::string typeName(kiln::ScalarType t) {
  return std::string(kiln::toString(t));
}
inline std::string typeName(c10::ScalarType t) {
  return c10::toString(t);
}
template <typename T>
inline Item dtypeOf(const T& t) {
  return text(typeName(t.scalar_type()));
}

// The first line of the message each of a series of calls throws ("no error" for one that
// does not), as items: a case that checks many errors at once.
class ErrorLog {
 public:
  template <typename F>
  void attempt(F f) {
    try {
      f();
      items_.push_back(text("no error"));
    } catch (const std::exception& e) {
      const std::string m = e.what();
      items_.push_back(text(m.substr(0, m.find('\n'))));
    }
  }
  const Items& items() const { return items_; }

 private:
  Items items_;
};

struct Outcome {
  Items items;
  std::string error;  // the message, when the case threw
};

inline void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// libtorch's words as Python prints them, which kiln follows: a tensor type is
// "torch.FloatTensor" where C++ prints "CPUFloatType", and an op with a Scalar operand records
// AddBackward0 (Python wraps the scalar in a tensor) where C++'s Scalar overload records
// AddBackward1.
inline std::string asPython(std::string s) {
  replaceAll(s, "CPUFloatType", "torch.FloatTensor");
  replaceAll(s, "CPUDoubleType", "torch.DoubleTensor");
  replaceAll(s, "CPUBoolType", "torch.BoolTensor");
  replaceAll(s, "CPUIntType", "torch.IntTensor");
  replaceAll(s, "CPULongType", "torch.LongTensor");
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    replaceAll(s, std::string(op) + "Backward1", std::string(op) + "Backward0");
  }
  return s;
}

template <typename F>
inline Outcome kilnOutcome(F f) {
  try {
    return {f(), ""};
  } catch (const kiln::Error& e) {
    return {{}, e.what()};
  } catch (const std::exception& e) {
    return {{}, std::string("not a kiln::Error: ") + e.what()};
  }
}

template <typename F>
inline Outcome torchOutcome(F f) {
  Outcome o;
  try {
    o.items = f();
  } catch (const c10::Error& e) {
    o.error = e.msg();
  } catch (const std::exception& e) {
    // Some of libtorch's checks (view's size, inlined from its headers) are not caught as
    // c10::Error here; their what() has no backtrace.
    o.error = e.what();
  }
  o.error = asPython(o.error);
  for (Item& i : o.items) i.text = asPython(i.text);
  return o;
}

inline std::string show(const Outcome& o) {
  if (!o.error.empty()) return "error: " + o.error;
  std::ostringstream os;
  for (const Item& i : o.items) {
    if (!i.defined) {
      os << " (undefined)";
    } else if (!i.text.empty()) {
      os << " " << i.text;
    } else {
      os << " [";
      for (size_t k = 0; k < i.data.size(); ++k) os << (k ? ", " : "") << i.data[k];
      os << "]";
    }
  }
  return os.str();
}

inline bool same(const Item& a, const Item& b) {
  if (a.defined != b.defined || a.sizes != b.sizes || a.text != b.text) return false;
  if (a.data.size() != b.data.size()) return false;
  for (size_t k = 0; k < a.data.size(); ++k) {
    double x = a.data[k], y = b.data[k];
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) return false;
      continue;
    }
    if (std::fabs(x - y) > 1e-5 * std::max(1.0, std::fabs(y))) return false;
  }
  return true;
}

inline void expectSame(const Outcome& k, const Outcome& t) {
  bool ok = k.error == t.error && k.items.size() == t.items.size();
  for (size_t i = 0; ok && i < k.items.size(); ++i) ok = same(k.items[i], t.items[i]);
  EXPECT_TRUE(ok) << "kiln:     " << show(k) << "\nlibtorch: " << show(t);
}

}  // namespace kiln_test

// A case: `Name` and a body that returns Items, written with K:: for the library's namespace.
#define BOTH(Suite, Name, ...)                                                    \
  namespace kiln_side_##Suite {                                                   \
    ::kiln_test::Items Name() {                                                   \
      using namespace ::kiln_test;                                                \
      namespace K = ::kiln;                                                       \
      __VA_ARGS__                                                                 \
    }                                                                             \
  }                                                                               \
  namespace torch_side_##Suite {                                                  \
    ::kiln_test::Items Name() {                                                   \
      using namespace ::kiln_test;                                                \
      namespace K = ::torch;                                                      \
      __VA_ARGS__                                                                 \
    }                                                                             \
  }                                                                               \
  TEST(Suite, Name) {                                                             \
    ::kiln_test::expectSame(::kiln_test::kilnOutcome(kiln_side_##Suite::Name),    \
                            ::kiln_test::torchOutcome(torch_side_##Suite::Name)); \
  }
