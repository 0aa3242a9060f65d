// The seed notebook (../shared/seed/pytorch-notes.md) replayed with kiln: each block is one
// notebook cell, printing what the cell prints. Random numbers come from kiln's own
// counter-based generator, so they differ from PyTorch's; every other line matches.
#include <kiln/kiln.h>

#include <charconv>
#include <iostream>
#include <string>

namespace {
void cell(const char* title) {
  std::cout << "\n# " << title << "\n";
}

// The shortest text that reads back as the same double, as Python prints floats.
std::string shortest(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
}  // namespace

int main() {
  kiln::manual_seed(0);

  cell("Tensor");
  auto x = kiln::empty({5, 3});  // uninitialised memory: whatever was there
  std::cout << x << "\n";
  x = kiln::rand({5, 3});
  std::cout << x << "\n";
  x = kiln::zeros({5, 3}, kiln::dtype(kiln::kLong));
  std::cout << x << "\n";
  x = kiln::tensor({5.5, 3.0});
  std::cout << x << "\n";
  std::cout << x.sizes() << "\n";

  cell("Operations");
  x = kiln::rand({5, 3});
  auto y = kiln::rand({5, 3});
  auto z = x + y;           // one
  z = kiln::add(x, y);      // two
  z = kiln::empty({5, 3});  // three: into an existing tensor
  kiln::add_out(z, x, y);
  y.add_(x);  // four: in place, y = x + y
  std::cout << y << "\n";
  std::cout << x.index({kiln::indexing::Slice(), 1}) << "\n";

  cell("Shapes");
  x = kiln::randn({4, 4});
  auto y2 = x.view(16);
  auto z2 = x.view({-1, 8});
  std::cout << x.sizes() << " " << y2.sizes() << " " << z2.sizes() << "\n";
  x = kiln::randn({1});
  std::cout << x << "\n";
  std::cout << shortest(x.item<double>()) << "\n";

  cell("Memory shared with C++ arrays (the NumPy bridge)");
  auto a = kiln::ones({2, 2});
  std::cout << a << "\n";
  float* b = a.data_ptr<float>();  // the tensor's own storage
  b[0] = 5;
  std::cout << a << "\n";
  double array[5] = {1, 1, 1, 1, 1};
  auto from = kiln::from_blob(array, {5}, kiln::kDouble);  // no copy
  for (double& v : array) v += 1;                          // np.add(a, 1, out=a)
  std::cout << "[" << array[0] << ". " << array[1] << ". " << array[2] << ". " << array[3] << ". "
            << array[4] << ".]\n";
  std::cout << from << "\n";

  cell("Devices");
  std::cout << "cuda available: " << std::boolalpha << kiln::cuda::is_available() << "\n";
  if (kiln::cuda::is_available()) {
    kiln::Device device("cuda");
    auto on_gpu = kiln::ones_like(x, kiln::device(device));
    x = x.to(device);
    auto sum = x + on_gpu;
    std::cout << sum << "\n";
    std::cout << sum.to("cpu", kiln::kDouble) << "\n";
  } else {
    std::cout << (x + kiln::ones_like(x)).to(kiln::kCPU, kiln::kDouble) << "\n";
  }

  cell("Autograd: tracking");
  x = kiln::ones({2, 2}, kiln::requires_grad());
  std::cout << x << "\n";
  auto y3 = x + 2;  // broadcast
  std::cout << y3 << "\n";
  auto z3 = y3 * y3 * 3;
  auto out = z3.mean();
  std::cout << z3 << " " << out << "\n";

  cell("Autograd: gradients");
  out.backward();  // forward and backward fuse into the kernels that compute x.grad()
  try {
    out.backward();
  } catch (const kiln::Error& e) {
    std::cout << "RuntimeError: " << e.what() << "\n";
  }
  std::cout << x.grad() << "\n";

  cell("What the engine did");
  kiln::Stats s = kiln::stats();
  std::cout << s.materializations << " materialisations, " << s.kernels_run << " kernels run, "
            << s.kernels_compiled << " compiled, " << s.cache_hits << " cache hits, "
            << s.compile_ms << " ms compiling\n";
  return 0;
}
