// The raw gather and scatter ops (lib/frontend/raw_ops.h): the graph nodes behind advanced
// indexing, gather, scatter, index_select and their gradients. The positions they read or write
// come from index tensors, so that their values are data: the ops that take indices from users
// check them first (checkIndexRange), and the nodes clamp them besides (ir::Op::Gather).
#include <absl/strings/str_cat.h>

#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"
#include "lib/frontend/tensor_impl.h"

namespace kiln::detail {

Tensor gatherAlong(const Tensor& source, int64_t axis, const Tensor& index) {
  ir::NodeDesc d;
  d.op = ir::Op::Gather;
  d.dtype = source.dtype();
  d.shape = index.sizes().vec();
  d.ivalue = axis;
  return record(ir::Node::make(std::move(d), {readNode(source), readNode(index)}), source.device());
}

void recordScatter(const Tensor& fresh, const ScatterGeometry& at, const Tensor& index,
                   const Tensor& value, bool add) {
  Storage& s = *fresh.impl()->storage;
  ++s.version;
  ir::NodeDesc d;
  d.op = add ? ir::Op::ScatterAdd : ir::Op::Scatter;
  d.dtype = s.dtype;
  d.shape = s.value->shape();
  d.ivalue = at.axis;
  d.ints = at.strides;
  d.ints.push_back(at.extent);
  d.offset = at.offset;
  s.value =
      ir::Node::make(std::move(d), {s.value, readNode(index), castNode(readNode(value), s.dtype)});
  afterRecord(fresh);
}

std::vector<int64_t> indexValues(const Tensor& index) {
  Tensor longs = index.to(kLong).contiguous();
  const int64_t* p = longs.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + longs.numel());
}

bool checkIndexRange(const Tensor& index, int64_t size, bool negatives_wrap,
                     const std::function<std::string(int64_t)>& message) {
  bool negative = false;
  for (int64_t i : indexValues(index)) {
    const bool in_range = negatives_wrap ? i >= -size && i < size : i >= 0 && i < size;
    if (!in_range) throw Error(message(i));
    negative = negative || i < 0;
  }
  return negative;
}

}  // namespace kiln::detail
