#include "lib/ir/node.h"

#include <absl/container/flat_hash_set.h>
#include <absl/container/inlined_vector.h>

#include <mutex>
#include <stdexcept>

namespace kiln::ir {

struct NodeTable {
  struct Hash {
    using is_transparent = void;
    size_t operator()(const Node* n) const { return n->hash_; }
  };
  struct Eq {
    bool operator()(const Node* a, const Node* b) const {
      // Erasing a node finds itself: no need to compare its description with its own.
      if (a == b) return true;
      return a->hash_ == b->hash_ && a->input_count_ == b->input_count_ &&
             a->input_ids_ == b->input_ids_ && a->desc_ == b->desc_;
    }
  };
  std::mutex mu;
  absl::flat_hash_set<Node*, Hash, Eq> set;
  std::atomic<uint64_t> next_id{1};
  std::atomic<int64_t> live{0};

  static NodeTable& get() {
    static NodeTable* table = new NodeTable;  // never destroyed: nodes may die during exit
    return *table;
  }
};

namespace {

// What a realized node is to extraction: a param of its type, viewed in its shape.
uint64_t realizedHash(const NodeDesc& d) {
  uint64_t h = mixHash(0x7265616c697a6564ull, static_cast<uint64_t>(d.dtype));
  h = mixHash(h, d.shape.size());
  for (int64_t x : d.shape) h = mixHash(h, static_cast<uint64_t>(x));
  return h;
}

}  // namespace

int64_t Node::liveCount() {
  return NodeTable::get().live.load();
}

uint64_t Node::hashFor(bool folding) const {
  if (folding && desc_.op == Op::Const) return hashStructure(structureOf(desc_, true));
  return structuralHash();
}

NodeRef Node::make(NodeDesc desc, absl::Span<const NodeRef> inputs) {
  if (inputs.size() > kMaxInputs) throw std::logic_error("kiln: a node with too many inputs");
  NodeTable& table = NodeTable::get();
  auto* n = new Node;
  n->desc_ = std::move(desc);
  n->input_count_ = static_cast<uint8_t>(inputs.size());
  int32_t depth = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    n->input_ids_[k] = inputs[k]->id_;
    depth = std::max(depth, inputs[k]->depth() + 1);
  }
  // The structural hash leaves out what reaches kernels as arguments; hash-consing tells every
  // value apart, so its hash adds them back (and the inputs' identities).
  const NodeDesc& d = n->desc_;
  const uint64_t own = hashStructure(structureOf(d, false));
  uint64_t full = own;
  if (d.op == Op::Const) {
    full = hashStructure(structureOf(d, true));
  } else if (d.op == Op::Rand || d.op == Op::Randn) {
    full = mixHash(mixHash(own, d.seed), static_cast<uint64_t>(d.offset));
  }
  for (size_t k = 0; k < inputs.size(); ++k) full = mixHash(full, n->input_ids_[k]);
  n->hash_ = mixHash(full, n->input_count_);
  bool foldable = d.op == Op::Const;
  if ((d.op == Op::Elementwise || d.op == Op::Strided) && !inputs.empty()) {
    foldable = true;
    for (const NodeRef& in : inputs) foldable = foldable && in->foldable_.load();
  }
  uint64_t h = own;
  for (const NodeRef& in : inputs) h = mixHash(h, in->hashFor(foldable));
  n->shash_.store(h, std::memory_order_relaxed);
  n->foldable_.store(foldable, std::memory_order_relaxed);
  for (size_t k = 0; k < inputs.size(); ++k) n->inputs_[k] = inputs[k];
  n->held_inputs_ = n->input_count_;
  n->depth_.store(depth);
  // Complete before it enters the table: another thread may find it there at once.
  n->refs_.store(1);
  Node* existing = nullptr;
  {
    std::lock_guard<std::mutex> lock(table.mu);
    auto [it, added] = table.set.insert(n);
    if (!added) {
      existing = *it;
      // A node whose count reached zero is being destroyed by another thread: replace it.
      int32_t r = existing->refs_.load();
      while (r > 0 && !existing->refs_.compare_exchange_weak(r, r + 1)) {
      }
      if (r == 0) {
        existing->interned_ = false;
        table.set.erase(it);
        table.set.insert(n);
        existing = nullptr;
      }
    }
    if (existing == nullptr) {
      n->id_ = table.next_id.fetch_add(1);
      n->interned_ = true;
    }
  }
  if (existing != nullptr) {
    delete n;  // outside the lock: it lets go of its inputs
    return NodeRef(existing);
  }
  table.live.fetch_add(1);
  return NodeRef(n);
}

NodeRef Node::makeParam(MemoryPtr memory, ScalarType dtype, int64_t numel) {
  NodeTable& table = NodeTable::get();
  auto* n = new Node;
  n->desc_.op = Op::Param;
  n->desc_.dtype = dtype;
  n->desc_.shape = {numel};
  n->id_ = table.next_id.fetch_add(1);
  n->realized_ = std::move(memory);
  n->shash_.store(realizedHash(n->desc_), std::memory_order_relaxed);
  n->refs_.store(1);
  table.live.fetch_add(1);
  return NodeRef(n);
}

void Node::forget() {
  if (!interned_.load()) return;
  NodeTable& table = NodeTable::get();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.set.find(this);
  if (it != table.set.end() && *it == this) table.set.erase(it);
  interned_.store(false);
}

void Node::realize(MemoryPtr memory) {
  realized_ = std::move(memory);
  depth_.store(0);
  shash_.store(realizedHash(desc_), std::memory_order_relaxed);
  foldable_.store(false, std::memory_order_relaxed);
  std::array<NodeRef, kMaxInputs> dropped = std::move(inputs_);
  held_inputs_ = 0;
}

void Node::release(Node* first) {
  if (first->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Iterative destruction: inputs whose count drops to zero join the worklist.
  absl::InlinedVector<Node*, 16> work{first};
  NodeTable& table = NodeTable::get();
  while (!work.empty()) {
    Node* n = work.back();
    work.pop_back();
    if (n->interned_) {
      std::lock_guard<std::mutex> lock(table.mu);
      auto it = table.set.find(n);
      if (it != table.set.end() && *it == n) table.set.erase(it);
    }
    for (uint8_t k = 0; k < n->held_inputs_; ++k) {
      Node* child = n->inputs_[k].detach();
      if (child->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) work.push_back(child);
    }
    table.live.fetch_sub(1);
    delete n;
  }
}

}  // namespace kiln::ir
