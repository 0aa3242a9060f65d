// kiln against libtorch 1.13 for issue 11's "Overloads and conversions that make ordinary code
// fail to compile or misbehave". Each case is written once with libtorch's own idioms and
// compiled against both libraries (test/libtorch_compare.h): that it compiles against kiln is half
// of what it checks, the other half that both give the same values and flags, or the same error.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "test/libtorch_compare.h"

namespace {

kiln_test::Item text(const std::string& s) {
  return kiln_test::Item{true, {}, {}, s};
}

std::string typeName(kiln::ScalarType t) {
  return std::string(kiln::toString(t));
}
std::string typeName(c10::ScalarType t) {
  return c10::toString(t);
}

template <typename T>
kiln_test::Item dtypeOf(const T& t) {
  return text(typeName(t.scalar_type()));
}

// Whether `f` throws (the libraries word a missing CUDA differently).
template <typename F>
bool refused(F f) {
  try {
    f();
  } catch (const std::exception&) {
    return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------- to()

BOTH(To, ADeviceTypeIsTensorOptions, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to(K::kCPU);
  return Items{out(y), dtypeOf(y), out(y.data_ptr() == x.data_ptr())};
})

BOTH(To, ABracedDevice, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to({K::kCPU, 0});
  return Items{out(y), dtypeOf(y)};
})

BOTH(To, ADeviceNameOrDevice, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to("cpu");
  auto z = x.to(x.device());
  return Items{out(y), out(y.data_ptr() == x.data_ptr()), out(z.data_ptr() == x.data_ptr())};
})

BOTH(To, ADeviceAndADtype, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to(K::kCPU, K::kDouble);
  auto z = x.to(K::Device("cpu"), K::kInt);
  return Items{out(y), dtypeOf(y), out(z), dtypeOf(z)};
})

BOTH(To, AnotherTensor, {
  auto x = K::tensor({1.5, -2.5});
  auto y = x.to(K::zeros({1}, K::kInt));
  auto z = x.to(x);
  return Items{out(y), dtypeOf(y), out(z.data_ptr() == x.data_ptr())};
})

BOTH(To, OptionsOfATensorThatRequiresGrad, {
  auto q = K::ones({2}, K::requires_grad());
  auto x = K::tensor({1, 2}, K::kInt);
  auto y = x.to(q.options());
  auto z = K::zeros({2}, q.options());
  return Items{dtypeOf(y), out(y.requires_grad()), out(z.requires_grad())};
})

BOTH(To, OptionsThatRequireGrad, {
  K::ones({2}).to(K::TensorOptions().requires_grad(true));
  return Items{};
})

BOTH(To, TheRequiresGradShorthand, {
  K::ones({2}, K::requires_grad()).to(K::requires_grad());
  return Items{};
})

BOTH(To, ADtypeThatRequiresGrad, {
  K::ones({2}).to(K::dtype(K::kDouble).requires_grad(true));
  return Items{};
})

BOTH(To, OptionsThatDoNotRequireGrad, {
  auto x = K::ones({2}, K::requires_grad());
  auto y = x.to(K::TensorOptions().requires_grad(false));
  auto z = x.to(K::TensorOptions());
  return Items{out(y.data_ptr() == x.data_ptr()), out(z.data_ptr() == x.data_ptr()),
               out(y.requires_grad())};
})

BOTH(To, CopyGivesNewMemory, {
  auto x = K::tensor({1.5, 2.5});
  auto a = x.to(K::kFloat, /*non_blocking=*/false, /*copy=*/true);
  auto b = x.to(x.options(), false, true);
  auto c = x.to(x, false, true);
  auto d = x.to(K::kCPU, K::kFloat, false, true);
  return Items{out(a), out(a.data_ptr() == x.data_ptr()), out(b.data_ptr() == x.data_ptr()),
               out(c.data_ptr() == x.data_ptr()), out(d.data_ptr() == x.data_ptr())};
})

BOTH(To, KeepsHistory, {
  auto q = K::tensor({1.5, -2.0}, K::requires_grad());
  auto y = q.to(K::kDouble);
  auto z = q.to(q.options());
  (y * y).sum().backward();
  return Items{fnName(y), out(y.requires_grad()), out(q.grad()), fnName(z)};
})

BOTH(To, AMemoryFormat, {
  auto x = K::ones({2, 3});
  auto a = x.to(K::kDouble, false, false, K::MemoryFormat::Contiguous);
  auto t = x.t();
  auto b = t.to(K::kFloat, false, false, K::MemoryFormat::Contiguous);
  auto c = x.to(x.options(), false, false, K::MemoryFormat::Preserve);
  auto d = x.to(x, false, false, K::MemoryFormat::Contiguous);
  return Items{dtypeOf(a), out(a.is_contiguous()), out(b.data_ptr() == t.data_ptr()),
               out(c.data_ptr() == x.data_ptr()), out(d.data_ptr() == x.data_ptr())};
})

// Each spelling of a CUDA device compiles in both; without CUDA both refuse it (in their own
// words: kiln's says CUDA is not supported yet).
BOTH(To, CudaSpellings, {
  auto x = K::ones({2});
  return Items{out(refused([&] { return x.to(K::kCUDA); })),
               out(refused([&] {
                 return x.to({K::kCUDA, 0});
               })),
               out(refused([&] { return x.to("cuda:0"); })),
               out(refused([&] { return x.to(K::Device(K::kCUDA, 0)); })),
               out(refused([&] { return x.to(K::kCUDA, K::kDouble); })),
               out(refused([&] { return x.to(K::TensorOptions().device(K::kCUDA)); }))};
})

