#pragma once
// NodeDesc: what one graph node computes (op, result type and shape, attributes), shared by the
// live lazy graph (lib/ir/node.h) and the flat SSA graph that passes work on (lib/ir/graph.h).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kiln/scalar_type.h"
#include "lib/ir/scalar_op.h"

namespace kiln::ir {

using Shape = std::vector<int64_t>;

/// The graph's ops. Elementwise nodes carry a ScalarOp (lib/ir/ops.def); everything else is one
/// of these.
enum class Op : uint8_t {
  Param,        // a realized buffer, read as a flat [numel] array (graph input)
  Const,        // a number broadcast to the node's shape (passed to kernels as an argument)
  Iota,         // the index along `axis`, converted to the node's type
  Rand,         // uniform [0,1) numbers, Philox4x32-10 at counter offset + flat index
  Randn,        // standard normal numbers, from the same counters
  Elementwise,  // `sop` applied to operands of the node's shape
  Strided,      // reads its input as a flat array through sizes (the node's shape), strides, offset
  Reduce,       // sum/prod/max/min over `axes`, keeping them as size 1
  ArgReduce,    // the index of the max/min along `axis` (kept as size 1), i64
  Write,        // the base (a flat array of as many elements) with `value` stored at the strided
                // positions
  Gather,       // source read with its index along `axis` taken from `index`: result[p] =
                // source[p with p[axis] = index[p]] (index: an integer tensor of the result's
                // shape; source: the result's shape but along axis). An index outside
                // [0, source.shape[axis]) is clamped (the front end refuses it first)
  Scatter,      // the base (a flat array) with value[p] stored at offset + sum_d q[d]*strides[d],
                // q = p with q[axis] = index[p] (clamped to [0, extent)), for each point p of
                // index's shape (value's too), in row-major order: where points meet one element,
                // the last one's value stays. ints = strides, then the extent
  ScatterAdd,   // as Scatter, but each point adds its value to the element
};
/// Whether `op` stores into a copy of its first operand, a flat base (a partial write).
inline bool writesIntoBase(Op op) {
  return op == Op::Write || op == Op::Scatter || op == Op::ScatterAdd;
}
enum class ReduceOp : uint8_t { Sum, Prod, Max, Min };

std::string_view opName(Op op);
std::string_view reduceName(ReduceOp op);

struct NodeDesc {
  Op op = Op::Const;
  ScalarOp sop = ScalarOp::Add;  // elementwise only
  ReduceOp rop = ReduceOp::Sum;  // reduce / argreduce only
  ScalarType dtype = ScalarType::Float;
  Shape shape;
  double fvalue = 0;          // const of a floating type
  int64_t ivalue = 0;         // const of an integral/bool type; param: its index; iota/argreduce/
                              // gather/scatter: axis
  int64_t offset = 0;         // strided/write: element offset; rand/randn: counter offset
  uint64_t seed = 0;          // rand/randn
  std::vector<int64_t> ints;  // strided/write: strides; reduce: axes; scatter: strides, extent

  bool operator==(const NodeDesc& o) const;
  int64_t numel() const;
  int arity() const;
};

size_t hashDesc(const NodeDesc& d);

/// The part of a node that decides a plan's schedule and code: everything but the values that
/// reach kernels as arguments. A constant counts by what simplification looks at: whether it is
/// 0 or 1, or its exact value where it gets folded (`exact`, see exactConstants); random numbers
/// count without their seeds and counter offsets. The plan cache's string key, the structural
/// hash of live nodes and the check of a cached plan against a live graph all read a node
/// through this one view, so they cannot disagree about what is structure.
struct Structure {
  uint64_t head = 0;   // op, sop, rop, dtype and, for a constant, its class
  uint64_t fbits = 0;  // an exact constant's value
  int64_t ivalue = 0;  // an exact constant's value; param index, axis
  int64_t offset = 0;
  const Shape* shape = nullptr;
  const std::vector<int64_t>* ints = nullptr;  // null where they are not structure

  bool operator==(const Structure& o) const;
};
Structure structureOf(const NodeDesc& d, bool exact);
/// A 64-bit hash of a structure (equal structures hash equally).
uint64_t hashStructure(const Structure& s);
/// One step of the hash combination used for structural hashes.
inline uint64_t mixHash(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

/// `f32[5,3]`
std::string typeText(ScalarType t, const Shape& s);
/// The attribute block printed after the operands, e.g. ` {strides=[3,1], offset=0}`, or "".
std::string attrText(const NodeDesc& d);
/// The mnemonic: "add", "reduce.sum", "strided", ...
std::string mnemonic(const NodeDesc& d);

/// The number of elements; saturates at the largest int64 instead of wrapping (the front end
/// refuses such shapes with PyTorch's errors before anything is computed from them).
int64_t numelOf(const Shape& s);
/// Row-major strides for `s` (saturating likewise).
std::vector<int64_t> contiguousStrides(const Shape& s);

// Inline: checking a cached plan against a live graph reads every node through them.
inline bool Structure::operator==(const Structure& o) const {
  return head == o.head && fbits == o.fbits && ivalue == o.ivalue && offset == o.offset &&
         *shape == *o.shape && (ints == nullptr) == (o.ints == nullptr) &&
         (ints == nullptr || *ints == *o.ints);
}

inline Structure structureOf(const NodeDesc& d, bool exact) {
  Structure s;
  uint64_t cls = 0;
  switch (d.op) {
    case Op::Const:
      if (exact) {
        cls = 3;
        std::memcpy(&s.fbits, &d.fvalue, sizeof s.fbits);
        s.ivalue = d.ivalue;
      } else {
        double v = isFloatingType(d.dtype) ? d.fvalue : static_cast<double>(d.ivalue);
        cls = v == 0 ? 0 : v == 1 ? 1 : 2;
      }
      break;
    case Op::Rand:
    case Op::Randn:
      break;
    default:
      s.ivalue = d.ivalue;
      s.offset = d.offset;
      s.ints = &d.ints;
  }
  s.head = static_cast<uint64_t>(d.op) | static_cast<uint64_t>(d.sop) << 8 |
           static_cast<uint64_t>(d.rop) << 16 | static_cast<uint64_t>(d.dtype) << 24 | cls << 32;
  s.shape = &d.shape;
  return s;
}

}  // namespace kiln::ir
