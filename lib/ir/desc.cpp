#include "lib/ir/desc.h"

#include <absl/hash/hash.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <cstring>

#include "lib/core/checked.h"

namespace kiln::ir {

std::string_view opName(Op op) {
  switch (op) {
    case Op::Param:
      return "param";
    case Op::Const:
      return "const";
    case Op::Iota:
      return "iota";
    case Op::Rand:
      return "rand";
    case Op::Randn:
      return "randn";
    case Op::Elementwise:
      return "elementwise";
    case Op::Strided:
      return "strided";
    case Op::Reduce:
      return "reduce";
    case Op::ArgReduce:
      return "argreduce";
    case Op::Write:
      return "write";
    case Op::Gather:
      return "gather";
    case Op::Scatter:
      return "scatter";
    case Op::ScatterAdd:
      return "scatter_add";
  }
  return "?";
}

std::string_view reduceName(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Prod:
      return "prod";
    case ReduceOp::Max:
      return "max";
    case ReduceOp::Min:
      return "min";
  }
  return "?";
}

bool NodeDesc::operator==(const NodeDesc& o) const {
  // Compare constants bitwise so that NaN equals NaN and 0.0 differs from -0.0.
  return op == o.op && sop == o.sop && rop == o.rop && dtype == o.dtype && shape == o.shape &&
         std::memcmp(&fvalue, &o.fvalue, sizeof fvalue) == 0 && ivalue == o.ivalue &&
         offset == o.offset && seed == o.seed && ints == o.ints;
}

size_t hashDesc(const NodeDesc& d) {
  uint64_t fbits;
  std::memcpy(&fbits, &d.fvalue, sizeof fbits);
  return absl::HashOf(static_cast<int>(d.op), static_cast<int>(d.sop), static_cast<int>(d.rop),
                      static_cast<int>(d.dtype), d.shape, fbits, d.ivalue, d.offset, d.seed,
                      d.ints);
}

uint64_t hashStructure(const Structure& s) {
  uint64_t h = mixHash(s.head, s.fbits);
  h = mixHash(h, static_cast<uint64_t>(s.ivalue));
  h = mixHash(h, static_cast<uint64_t>(s.offset));
  h = mixHash(h, s.shape->size());
  for (int64_t x : *s.shape) h = mixHash(h, static_cast<uint64_t>(x));
  if (s.ints != nullptr) {
    h = mixHash(h, s.ints->size());
    for (int64_t x : *s.ints) h = mixHash(h, static_cast<uint64_t>(x));
  }
  return h;
}

int64_t numelOf(const Shape& s) {
  int64_t n = 1;
  for (int64_t x : s) n = saturatingMul(n, x);
  return n;
}

std::vector<int64_t> contiguousStrides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc = saturatingMul(acc, std::max<int64_t>(s[i], 1));
  }
  return st;
}

int64_t NodeDesc::numel() const {
  return numelOf(shape);
}

int NodeDesc::arity() const {
  switch (op) {
    case Op::Param:
    case Op::Const:
    case Op::Iota:
    case Op::Rand:
    case Op::Randn:
      return 0;
    case Op::Elementwise:
      return info(sop).arity;
    case Op::Strided:
    case Op::Reduce:
    case Op::ArgReduce:
      return 1;
    case Op::Write:
    case Op::Gather:
      return 2;
    case Op::Scatter:
    case Op::ScatterAdd:
      return 3;
  }
  return 0;
}

std::string typeText(ScalarType t, const Shape& s) {
  return absl::StrCat(std::string(irName(t)), "[", absl::StrJoin(s, ","), "]");
}

std::string mnemonic(const NodeDesc& d) {
  switch (d.op) {
    case Op::Elementwise:
      return std::string(info(d.sop).name);
    case Op::Reduce:
    case Op::ArgReduce:
      return absl::StrCat(std::string(opName(d.op)), ".", std::string(reduceName(d.rop)));
    default:
      return std::string(opName(d.op));
  }
}

std::string attrText(const NodeDesc& d) {
  switch (d.op) {
    case Op::Iota:
    case Op::ArgReduce:
    case Op::Gather:
      return absl::StrCat(" {axis=", d.ivalue, "}");
    case Op::Scatter:
    case Op::ScatterAdd:
      return absl::StrCat(
          " {axis=", d.ivalue, ", extent=", d.ints.empty() ? 0 : d.ints.back(), ", strides=[",
          absl::StrJoin(d.ints.begin(), d.ints.end() - (d.ints.empty() ? 0 : 1), ","),
          "], offset=", d.offset, "}");
    case Op::Rand:
    case Op::Randn:
      return absl::StrCat(" {seed=", d.seed, ", offset=", d.offset, "}");
    case Op::Strided:
    case Op::Write:
      return absl::StrCat(" {strides=[", absl::StrJoin(d.ints, ","), "], offset=", d.offset, "}");
    case Op::Reduce:
      return absl::StrCat(" {axes=[", absl::StrJoin(d.ints, ","), "]}");
    default:
      return "";
  }
}

}  // namespace kiln::ir
