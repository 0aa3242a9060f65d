#pragma once
// The front end's data model. A Storage is one flat array of elements whose current contents
// are a graph node (pending or realized); a TensorImpl is a strided view of a storage, as in
// PyTorch. Views share the storage, so an in-place op through any view replaces the storage's
// node and every other view sees it.
#include <absl/types/span.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "kiln/autograd.h"
#include "kiln/device.h"
#include "kiln/scalar_type.h"
#include "kiln/tensor.h"
#include "lib/ir/node.h"
#include "runtime/buffer.h"

namespace kiln::detail {

struct Storage {
  ScalarType dtype;
  int64_t numel;
  /// Where the elements live (and where the kernels computing them run).
  Device device{DeviceType::CPU};
  // Reading a tensor is const to its users, who share tensors between threads as they do in
  // libtorch, yet materialising it may replace `value` (with a param of its own buffer) while
  // other threads record ops that read `value` (readNode): the replacement and those reads hold
  // `mu`. Everything else that changes the storage's fields is either a materialisation, under
  // engineMutex() (`buffer`, `owner`), or an in-place op, which the application runs while no
  // other thread uses the storage (libtorch's rule).
  mutable std::mutex mu;
  /// The storage's memory on `device`, once it has any (from_blob, empty, or a first
  /// materialisation). Set once, never replaced: whoever has materialised the storage may read
  /// it without a lock.
  runtime::BufferPtr buffer;
  /// The current contents, as a node whose numel is `numel` (read row-major).
  ir::NodeRef value;
  /// The node whose realized buffer is `buffer` (the contents at the last materialisation);
  /// kept so that an in-place update can hand it a snapshot if something still reads it.
  ir::NodeRef owner;
  /// Counts in-place updates, so that backward can refuse values changed after being saved.
  uint32_t version = 0;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  /// Caller memory (from_blob) gets the in-place writes still pending on it before the storage
  /// goes, as libtorch has made them already: the caller reads them, and a deleter runs after.
  ~Storage();

  /// `value`, read under `mu`: what a thread recording an op on the storage reads.
  ir::NodeRef contents() const {
    std::lock_guard<std::mutex> lock(mu);
    return value;
  }
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t offset = 0;
  /// A leaf's flag; non-leaf tensors require grad because they have a grad_fn.
  bool requires_grad = false;
  // The autograd fields hold the public autograd::Node (what grad_fn() returns), not a type of
  // lib/autograd, which depends on the front end and not the reverse. lib/autograd creates
  // every node stored here and sees it as its own Function; the front end only copies, clears
  // and tests these fields (an in-place op hands self another tensor's history), so a public
  // base class is enough and an opaque AutogradMeta (as PyTorch's TensorImpl holds) would add
  // an indirection for nothing.
  /// The backward function that produced this tensor (null for leaves) and which of its
  /// outputs this is.
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  /// Where a leaf's gradients are accumulated (created on first use, shared by its uses).
  std::weak_ptr<autograd::Node> grad_accumulator;
  /// A leaf's accumulated gradient, or a retained non-leaf's (see retains_grad).
  Tensor grad;
  /// Set by retain_grad() on a non-leaf: backward keeps its gradient in `grad`.
  bool retains_grad = false;
  /// The in-place update count of a tensor made by data() and of its views, which libtorch gives
  /// a version counter of their own; null for every other tensor, which counts in its storage.
  std::shared_ptr<uint32_t> own_version;
  /// Made by a view op (shares another tensor's storage).
  bool is_view = false;
  /// For a view: the tensor it is ultimately a view of (in-place ops on the view rewrite the
  /// base's autograd history).
  std::shared_ptr<TensorImpl> view_base;
  /// For a view: the storage's version when its grad_fn was last brought up to date (see
  /// refreshViewHistory). Atomic because reading a shared view brings it up to date: the first
  /// thread to do so publishes the new history with it.
  std::atomic<uint32_t> view_version{0};

  ScalarType dtype() const { return storage->dtype; }
  /// The version counter that in-place updates through this tensor advance and that backward
  /// checks saved values against: the storage's, or own_version.
  uint32_t& version() const { return own_version ? *own_version : storage->version; }
  int64_t numel() const;
  bool isContiguous() const;
  /// Whether this view covers its whole storage in row-major order.
  bool coversStorage() const;
};

/// The byte count of a new contiguous storage of `sizes`, or PyTorch's error when that or its
/// strides overflow ("Storage size calculation overflowed with sizes=[...]"). Every new storage
/// is checked so, before anything computes with its sizes.
int64_t checkedStorageBytes(const std::vector<int64_t>& sizes, ScalarType dtype);
/// The byte count of a storage that `sizes` and `strides` (non-negative) read from offset 0,
/// or PyTorch's overflow error (computeStorageNbytes).
int64_t checkedStorageBytes(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                            ScalarType dtype);
/// PyTorch's error for reading or writing memory that is not there (from_blob(nullptr, ...)).
void checkAllocated(const runtime::Buffer& buffer);

/// Brings a view's autograd history up to date (defined by lib/autograd, which owns the
/// histories; the accessors of the autograd fields call it first): when the storage has been
/// written since the view's grad_fn was recorded (through another view of the base, or the base
/// itself), the view's grad_fn becomes an AsStridedBackward0 of the base's current history, as
/// PyTorch regenerates a view's grad_fn when its version changes, so that backward sees the
/// write. A no-op for tensors that are not views or are up to date. Threads reading one view
/// may call it at once: one of them brings the history up to date while the others wait.
void refreshViewHistory(const std::shared_ptr<TensorImpl>& impl);

/// A tensor whose contents are `node` (a new storage).
Tensor fromNode(ir::NodeRef node, Device device = Device(DeviceType::CPU));
/// A view of `base`'s storage with the given geometry.
Tensor makeView(const Tensor& base, std::vector<int64_t> sizes, std::vector<int64_t> strides,
                int64_t offset);
/// The node reading `t` (its storage's contents through its geometry).
ir::NodeRef readNode(const Tensor& t);
/// Replaces the elements `t` views with `value` (same shape, already cast to t's dtype).
void assignNode(const Tensor& t, ir::NodeRef value);
/// Records `value` (of shape `sizes`, in the storage's dtype) as written into `t`'s storage at
/// the elements `offset` + sum(i_k * strides[k]): assignNode for a window of a tensor that only
/// its caller sees (a cat's result), without making a view tensor for it.
void assignWindow(const Tensor& t, const std::vector<int64_t>& sizes,
                  const std::vector<int64_t>& strides, int64_t offset, ir::NodeRef value);
/// Refuses a copy into `written` from `read` when the two are dense views of one storage that
/// share some elements but not all of them in the same order (PyTorch's partial-overlap check;
/// a view it cannot judge, such as an expanded one, passes).
void checkNoPartialOverlap(const Tensor& written, const Tensor& read);
/// A new storage wrapping an existing buffer (on the buffer's device).
Tensor fromBuffer(runtime::BufferPtr buffer, ScalarType dtype, std::vector<int64_t> sizes,
                  std::vector<int64_t> strides, int64_t storage_numel);

/// The contents of some tensors' storages, to put back when an operation that writes several
/// of them in place fails part-way (an optimizer step whose materialisation fails leaves the
/// parameters and the state as they were).
class StorageSnapshot {
 public:
  /// Remembers the contents of `t`'s storage (once per storage).
  void add(const Tensor& t);
  /// Before the operation's last materialisation: lets go of the contents that a storage keeps
  /// alive itself (the node its memory holds, its owner), which that materialisation would
  /// otherwise copy out for this snapshot; a materialisation that fails changes no owner, so
  /// restore() still finds them.
  void releaseOwners();
  /// Once the operation has recorded its writes: lets go of the contents that a storage's new
  /// contents read directly (a partial write's base, an in-place update's operand). They stay
  /// alive through the storage until a materialisation succeeds, and a hold of the snapshot's
  /// own would make that materialisation copy the buffer below them (the old contents look
  /// read from outside it).
  void releaseReadByContents();
  /// Gives every remembered storage its remembered contents and version back.
  void restore();

 private:
  struct Saved {
    std::shared_ptr<Storage> storage;
    ir::Node* value;
    ir::NodeRef held;  // `value`, unless it is the owner and releaseOwners() has run
    uint32_t version;
  };
  std::vector<Saved> saved_;
};

/// Held while materialising and while changing realized nodes, and by every reader of a node's
/// realized value or inputs (Node::realize changes both).
std::mutex& engineMutex();
/// Computes the given storages' contents into their buffers (one compilation for all).
void materialize(absl::Span<Storage* const> storages, const char* why);
/// Materialises `t`'s storage and returns a pointer to its first element.
void* dataPointer(const Tensor& t);
/// Contiguous host copy of `t`'s elements, as doubles (for printing and comparisons).
std::vector<double> toDoubles(const Tensor& t);
/// The elements as stored (exact for every type), in row-major order: elementSize bytes each.
std::vector<char> toBytes(const Tensor& t);

/// After recording an op: materialise now in eager mode, or when the pending graph is deeper
/// than the size budget.
void afterRecord(const Tensor& t);
/// The last step of an in-place op, after everything else that can fail: assignNode, then
/// afterRecord. When that materialisation fails, `t`'s storage gets its old contents and
/// version back before the error goes on, so an in-place op that throws has changed nothing.
void assignAndRecord(const Tensor& t, ir::NodeRef value);

/// While alive, eager mode does not materialise the ops recorded on this thread (the parts of
/// an in-place op, which materialises once as a whole).
class DeferEager {
 public:
  DeferEager();
  ~DeferEager();
  DeferEager(const DeferEager&) = delete;
  DeferEager& operator=(const DeferEager&) = delete;
};

/// While alive, nothing recorded on this thread is materialised by eager mode or the size
/// budget: for tools that build a graph only to show it (kiln-ir's gradient graphs).
class KeepPending {
 public:
  KeepPending();
  ~KeepPending();
  KeepPending(const KeepPending&) = delete;
  KeepPending& operator=(const KeepPending&) = delete;
};

}  // namespace kiln::detail

namespace kiln::detail {
/// The elements of `t` computed by the reference interpreter (lib/interp) from its pending
/// graph, in double precision, without compiling or materialising anything. For tests.
std::vector<double> referenceValues(const Tensor& t);
/// The pending graph behind `t`, as the materialiser would extract it.
std::string pendingGraphText(const Tensor& t);
}  // namespace kiln::detail
