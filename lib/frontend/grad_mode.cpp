// Grad mode: the thread's switch for recording backward functions (NoGradGuard). It lives in the
// front end, below autograd, because front-end ops read it too (as PyTorch keeps GradMode in
// c10): composite ops compute their parts under NoGradGuard, in-place checks depend on it.
#include "kiln/autograd.h"

namespace kiln {
namespace {
thread_local bool grad_enabled = true;
}  // namespace

bool is_grad_enabled() {
  return grad_enabled;
}
void set_grad_enabled(bool enabled) {
  grad_enabled = enabled;
}

}  // namespace kiln
