#include "tools/kiln-ir/replay.h"

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/elementwise_ops.h"
#include "lib/frontend/common.h"
#include "lib/frontend/tensor_impl.h"

namespace kiln::tools {
namespace {

using ir::Op;

// The elements of `t` as a flat array of their own (strided reads address a flat array).
Tensor flatOperand(const Tensor& t) {
  return t.impl()->coversStorage() ? t : t.clone();
}

Tensor reduce(const ir::NodeDesc& d, const Tensor& x) {
  if (d.ints.empty()) return x;
  switch (d.rop) {
    case ir::ReduceOp::Sum:
      return x.sum(d.ints, /*keepdim=*/true, d.dtype);
    case ir::ReduceOp::Prod: {
      Tensor r = x;
      for (int64_t axis : d.ints) r = r.prod(axis, /*keepdim=*/true, d.dtype);
      return r;
    }
    case ir::ReduceOp::Max:
      return x.amax(d.ints, /*keepdim=*/true);
    case ir::ReduceOp::Min:
      return x.amin(d.ints, /*keepdim=*/true);
  }
  return x;
}

}  // namespace

std::vector<Tensor> replayGraph(const ir::Graph& g, const std::vector<Tensor>& params) {
  std::vector<Tensor> v(g.instrs.size());
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    const ir::Instr& in = g.instrs[i];
    const ir::NodeDesc& d = in.d;
    auto operand = [&](size_t k) -> const Tensor& { return v[in.operands[k]]; };
    switch (d.op) {
      case Op::Param:
        v[i] = params[d.ivalue];
        break;
      case Op::Const:
      case Op::Iota:
      case Op::Rand:
      case Op::Randn:
        v[i] = detail::record(ir::Node::make(d, {}));
        break;
      case Op::Elementwise: {
        std::vector<Tensor> inputs;
        for (size_t k = 0; k < in.operands.size(); ++k) inputs.push_back(operand(k));
        v[i] = autograd::elementwiseOp(d.sop, d.dtype, inputs);
        break;
      }
      case Op::Strided:
        v[i] = flatOperand(operand(0)).as_strided(d.shape, d.ints, d.offset);
        break;
      case Op::Reduce:
        v[i] = reduce(d, operand(0));
        break;
      case Op::ArgReduce:
        v[i] = d.rop == ir::ReduceOp::Max ? operand(0).argmax(d.ivalue, /*keepdim=*/true)
                                          : operand(0).argmin(d.ivalue, /*keepdim=*/true);
        break;
      case Op::Write: {
        Tensor out = operand(0).reshape(d.shape).clone();
        const Tensor& value = operand(1);
        out.as_strided(value.sizes(), d.ints, d.offset).copy_(value);
        v[i] = out;
        break;
      }
      case Op::Gather:
        v[i] = operand(0).gather(d.ivalue, operand(1).to(kLong));
        break;
      case Op::Scatter:
      case Op::ScatterAdd: {
        Tensor out = operand(0).reshape(d.shape).clone();
        const Tensor& value = operand(2);
        std::vector<int64_t> window = value.sizes().vec();
        window[d.ivalue] = d.ints.back();
        Tensor target =
            out.as_strided(window, IntArrayRef(d.ints.data(), d.ints.size() - 1), d.offset);
        const Tensor index = operand(1).to(kLong);
        if (d.op == Op::Scatter) {
          target.scatter_(d.ivalue, index, value);
        } else {
          target.scatter_add_(d.ivalue, index, value);
        }
        v[i] = out;
        break;
      }
    }
  }
  return v;
}

Tensor paramTensor(runtime::BufferPtr buffer, const ir::NodeDesc& desc) {
  return detail::fromBuffer(std::move(buffer), desc.dtype, {desc.numel()}, {1}, desc.numel());
}

}  // namespace kiln::tools
