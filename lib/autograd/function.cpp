// Tearing down the backward graph. A GradFunction owns the functions after it (its edges) and,
// through its saved tensors and its rule's captures, tensors that own functions of their own:
// letting the last reference to a long history go would recurse once per recorded op and
// overflow the stack (100,000 ops are enough). Instead, the outermost destruction on a thread
// collects what each dying function owned and lets it go one piece at a time, so the depth of
// any teardown stays constant, as PyTorch's deleteNode does.
#include "lib/autograd/function.h"

namespace kiln::autograd {

namespace {

// What dying functions owned, waiting to be let go by the outermost teardown.
struct Teardown {
  std::vector<std::shared_ptr<GradFunction>> functions;
  std::vector<Tensor> tensors;
  std::vector<Rule> rules;
};

// The teardown in progress on this thread (a plain pointer: nothing to destroy at thread exit,
// when functions held by thread-local or static tensors may still die).
thread_local Teardown* active = nullptr;

template <typename T>
bool dropOne(std::vector<T>& items) {
  if (items.empty()) return false;
  T last = std::move(items.back());
  items.pop_back();
  return true;  // `last` dies here, and whatever it owned joins the teardown
}

}  // namespace

void GradFunction::dispose(std::vector<Edge>& next, std::vector<SavedTensor>* saved, Rule* rule) {
  Teardown local;
  Teardown& t = active != nullptr ? *active : local;
  for (Edge& e : next) {
    if (e.fn) t.functions.push_back(std::move(e.fn));
  }
  next.clear();
  if (saved != nullptr) {
    for (SavedTensor& s : *saved) {
      if (s.value.defined()) t.tensors.push_back(std::move(s.value));
    }
    saved->clear();
  }
  if (rule != nullptr && *rule) t.rules.push_back(std::move(*rule));
  if (active != nullptr) return;
  active = &local;
  while (dropOne(local.functions) || dropOne(local.tensors) || dropOne(local.rules)) {
  }
  active = nullptr;
}

GradFunction::~GradFunction() {
  dispose(next, nullptr, nullptr);
}

RuleFunction::~RuleFunction() {
  dispose(next, &saved_, &rule_);
}

}  // namespace kiln::autograd
