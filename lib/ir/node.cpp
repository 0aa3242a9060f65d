#include "lib/ir/node.h"

#include <absl/container/flat_hash_set.h>

#include <mutex>

namespace kiln::ir {

struct NodeTable {
  struct Hash {
    using is_transparent = void;
    size_t operator()(const Node* n) const { return n->hash_; }
  };
  struct Eq {
    bool operator()(const Node* a, const Node* b) const {
      return a->hash_ == b->hash_ && a->input_ids_ == b->input_ids_ && a->desc_ == b->desc_;
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

int64_t Node::liveCount() {
  return NodeTable::get().live.load();
}

NodeRef Node::make(NodeDesc desc, std::vector<NodeRef> inputs) {
  NodeTable& table = NodeTable::get();
  auto* n = new Node;
  n->desc_ = std::move(desc);
  n->input_ids_.reserve(inputs.size());
  int32_t depth = 0;
  for (const NodeRef& in : inputs) {
    n->input_ids_.push_back(in->id_);
    depth = std::max(depth, in->depth() + 1);
  }
  n->hash_ = absl::HashOf(hashDesc(n->desc_), n->input_ids_);
  {
    std::lock_guard<std::mutex> lock(table.mu);
    auto it = table.set.find(n);
    if (it != table.set.end()) {
      Node* existing = *it;
      // A node whose count reached zero is being destroyed by another thread: replace it.
      int32_t r = existing->refs_.load();
      while (r > 0 && !existing->refs_.compare_exchange_weak(r, r + 1)) {
      }
      if (r > 0) {
        delete n;
        return NodeRef(existing);
      }
      existing->interned_ = false;
      table.set.erase(it);
    }
    n->id_ = table.next_id.fetch_add(1);
    n->interned_ = true;
    table.set.insert(n);
  }
  n->inputs_ = std::move(inputs);
  n->depth_.store(depth);
  n->refs_.store(1);
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
  std::vector<NodeRef> dropped = std::move(inputs_);
  inputs_.clear();
}

void Node::release(Node* first) {
  if (first->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Iterative destruction: inputs whose count drops to zero join the worklist.
  std::vector<Node*> work{first};
  NodeTable& table = NodeTable::get();
  while (!work.empty()) {
    Node* n = work.back();
    work.pop_back();
    if (n->interned_) {
      std::lock_guard<std::mutex> lock(table.mu);
      auto it = table.set.find(n);
      if (it != table.set.end() && *it == n) table.set.erase(it);
    }
    for (NodeRef& in : n->inputs_) {
      Node* child = in.detach();
      if (child->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) work.push_back(child);
    }
    table.live.fetch_sub(1);
    delete n;
  }
}

}  // namespace kiln::ir
