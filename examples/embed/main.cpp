// A small application embedding kiln through its installed CMake package (see CMakeLists.txt).
// Builds a lazy computation, prints it, checks the values against plain C++ and that errors arrive
// as kiln::Error: exits 1 on any mismatch.
#include <kiln/kiln.h>

#include <cmath>
#include <cstdio>
#include <iostream>

int main() {
  // x = [0, 1, ..., 11] as a 3x4 matrix, y = 0.5 everywhere.
  kiln::Tensor x = kiln::arange(12, kiln::kFloat).reshape({3, 4});
  kiln::Tensor y = kiln::full({3, 4}, 0.5);

  // Recorded, not computed: the whole expression becomes one fused, compiled kernel.
  kiln::Tensor z = kiln::tanh((x + y) * 0.5) + kiln::exp(-(x * x)) * 0.25;
  kiln::Tensor total = z.sum();
  std::cout << "z is " << (z.is_lazy() ? "pending" : "computed") << "\n";

  kiln::eval(
      {z, total});  // computes both in one go (printing z or total.item() would also compute)
  std::cout << "z =\n" << z << "\n";
  float got = total.item<float>();

  double want = 0;
  const float* zp = z.data_ptr<float>();
  bool ok = true;
  for (int i = 0; i < 12; ++i) {
    float xi = static_cast<float>(i);
    float expect = std::tanh((xi + 0.5f) * 0.5f) + std::exp(-(xi * xi)) * 0.25f;
    want += expect;
    if (std::fabs(zp[i] - expect) > 1e-5f) {
      std::fprintf(stderr, "mismatch at %d: kiln %.8g, C++ %.8g\n", i, zp[i], expect);
      ok = false;
    }
  }
  std::printf("sum = %.6f (expected %.6f)\n", got, want);
  if (std::fabs(got - want) > 1e-4) {
    std::fprintf(stderr, "sum mismatch\n");
    ok = false;
  }
  // Errors cross the library boundary as kiln::Error.
  try {
    (void)z.item<float>();  // 12 elements: not a scalar
    std::fprintf(stderr, "expected a kiln::Error\n");
    ok = false;
  } catch (const kiln::Error& e) {
    std::printf("caught kiln::Error: %s\n", e.what());
  }

  kiln::Stats s = kiln::stats();
  std::printf("kernels compiled: %lld, run: %lld\n", static_cast<long long>(s.kernels_compiled),
              static_cast<long long>(s.kernels_run));
  std::puts(ok ? "embed: OK" : "embed: FAILED");
  return ok ? 0 : 1;
}
