#pragma once
// The live lazy graph: every recorded op is a Node, reference counted and hash-consed so that
// identical subexpressions are one node. A node that has been computed keeps its buffer
// (`realized`) and lets go of its inputs, so finished work is never kept alive or redone.
#include <absl/types/span.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "lib/ir/desc.h"

namespace kiln::ir {

/// The memory holding a realized node's elements. The graph IR only keeps it and hands it back
/// to whoever extracts the graph: what it is (a buffer on some device) is the runtime's
/// business (runtime/buffer.h), so the IR depends on nothing that comes after it.
class Memory {
 public:
  virtual ~Memory() = default;
};
using MemoryPtr = std::shared_ptr<Memory>;

class Node;

/// An owning reference to a Node. Releasing the last reference frees whole chains iteratively,
/// so a million-node graph does not recurse a million frames deep.
class NodeRef {
 public:
  NodeRef() = default;
  explicit NodeRef(Node* n);  // adopts one reference already counted
  /// A new reference to a node that is known to be alive.
  static NodeRef share(Node* n);
  NodeRef(const NodeRef& o);
  NodeRef(NodeRef&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  NodeRef& operator=(NodeRef o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~NodeRef();

  Node* get() const { return n_; }
  Node* operator->() const { return n_; }
  Node& operator*() const { return *n_; }
  explicit operator bool() const { return n_ != nullptr; }
  /// Gives up ownership without releasing.
  Node* detach() { return std::exchange(n_, nullptr); }
  bool operator==(const NodeRef& o) const { return n_ == o.n_; }
  bool operator!=(const NodeRef& o) const { return n_ != o.n_; }

 private:
  Node* n_ = nullptr;
};

class Node {
 public:
  const NodeDesc& desc() const { return desc_; }
  Op op() const { return desc_.op; }
  ScalarType dtype() const { return desc_.dtype; }
  const Shape& shape() const { return desc_.shape; }
  uint64_t id() const { return id_; }
  /// Inputs; empty once the node is realized.
  absl::Span<const NodeRef> inputs() const { return {inputs_.data(), held_inputs_}; }
  /// Longest chain of pending nodes ending here (0 when realized).
  int32_t depth() const { return depth_.load(std::memory_order_relaxed); }
  int32_t refs() const { return refs_.load(std::memory_order_relaxed); }

  /// A hash of everything about the graph behind this node that decides a plan
  /// (ir::structureOf), kept as nodes are recorded: a pending node's combines its own structure
  /// with its inputs', a realized node's is that of a param of its type and shape. Materialising
  /// looks cached plans up by it without extracting the graph, and checks the structure before
  /// using one (structuralMatch), so a collision costs time, never a wrong plan.
  uint64_t structuralHash() const { return shash_.load(std::memory_order_relaxed); }

  /// The computed value (contiguous in this node's shape), or null while pending.
  const MemoryPtr& realized() const { return realized_; }
  /// Records the computed value and drops the inputs. Called by the materialiser only.
  void realize(MemoryPtr memory);
  /// Points an already realized node at a copy of its buffer, so that the original may be
  /// overwritten in place while this node keeps its value.
  void rebind(MemoryPtr copy) { realized_ = std::move(copy); }

  /// Takes the node out of hash-consing: later identical ops get a node of their own. For nodes
  /// whose buffer a storage owns, since that memory can change (in place, or through data_ptr).
  void forget();

  /// Records a node, or returns the existing identical one (hash-consing). At most three inputs.
  static NodeRef make(NodeDesc desc, absl::Span<const NodeRef> inputs);
  /// A param leaf for memory (never shared: every param is its own node).
  static NodeRef makeParam(MemoryPtr memory, ScalarType dtype, int64_t numel);
  /// Number of live nodes, for tests of memory bounds.
  static int64_t liveCount();

 private:
  friend class NodeRef;
  friend struct NodeTable;
  friend struct WalkMarks;
  Node() = default;
  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  static void release(Node* n);
  // The hash that consumers combine: a constant's exact value counts where they fold it.
  uint64_t hashFor(bool folding) const;

  // The most inputs a node has (where: condition and two values).
  static constexpr size_t kMaxInputs = 3;

  NodeDesc desc_;
  // Held in the node (no allocation of their own): input_count_ of them until it is realized.
  std::array<NodeRef, kMaxInputs> inputs_;
  uint8_t held_inputs_ = 0;
  // The hash-consing key outlives the inputs themselves.
  std::array<uint64_t, kMaxInputs> input_ids_{};
  uint8_t input_count_ = 0;
  uint64_t id_ = 0;
  size_t hash_ = 0;
  std::atomic<uint64_t> shash_{0};
  // A constant, or an elementwise or strided node of pending constants only: simplification
  // folds it, so its constants' exact values are structure (ir::exactConstants).
  std::atomic<bool> foldable_{false};
  // Scratch of the graph walks of lib/ir/extract.cpp (the walk that set them, and the
  // instruction standing for the node), which serialise themselves.
  uint64_t walk_epoch_ = 0;
  int32_t walk_instr_ = -1;
  std::atomic<bool> interned_{false};
  std::atomic<int32_t> refs_{0};
  std::atomic<int32_t> depth_{0};
  MemoryPtr realized_;
};

inline NodeRef::NodeRef(Node* n) : n_(n) {}
inline NodeRef NodeRef::share(Node* n) {
  n->retain();
  return NodeRef(n);
}
inline NodeRef::NodeRef(const NodeRef& o) : n_(o.n_) {
  if (n_) n_->retain();
}
inline NodeRef::~NodeRef() {
  if (n_) Node::release(n_);
}

}  // namespace kiln::ir
