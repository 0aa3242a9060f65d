#include <kiln/kiln.h>

#include <iostream>

int main() {
  auto x = kiln::zeros({5, 3}, kiln::kLong);
  std::cout << x << "\n";
  x = kiln::tensor({5.5, 3.0});
  std::cout << x << "\n";
  std::cout << x.sizes() << "\n";
}
