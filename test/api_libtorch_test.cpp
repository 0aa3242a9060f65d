// kiln against libtorch 1.13 for issue 11's "Overloads and conversions that make ordinary code
// fail to compile or misbehave". Each case is written once with libtorch's own idioms and
// compiled against both libraries (test/libtorch_compare.h): that it compiles against kiln is half
// of what it checks, the other half that both give the same values and flags, or the same error.
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "test/libtorch_compare.h"

namespace {

using kiln_test::dtypeOf;
using kiln_test::text;
using kiln_test::typeName;

// Whether `f` throws (the libraries word a missing CUDA differently).
template <typename F>
bool refused(F f) {
  try {
    f();
  } catch (const std::exception&) {
    return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------- to()

BOTH(To, ADeviceTypeIsTensorOptions, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to(K::kCPU);
  return Items{out(y), dtypeOf(y), out(y.data_ptr() == x.data_ptr())};
})

BOTH(To, ABracedDevice, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to({K::kCPU, 0});
  return Items{out(y), dtypeOf(y)};
})

BOTH(To, ADeviceNameOrDevice, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to("cpu");
  auto z = x.to(x.device());
  return Items{out(y), out(y.data_ptr() == x.data_ptr()), out(z.data_ptr() == x.data_ptr())};
})

BOTH(To, ADeviceAndADtype, {
  auto x = K::tensor({1.5, 2.5});
  auto y = x.to(K::kCPU, K::kDouble);
  auto z = x.to(K::Device("cpu"), K::kInt);
  return Items{out(y), dtypeOf(y), out(z), dtypeOf(z)};
})

BOTH(To, AnotherTensor, {
  auto x = K::tensor({1.5, -2.5});
  auto y = x.to(K::zeros({1}, K::kInt));
  auto z = x.to(x);
  return Items{out(y), dtypeOf(y), out(z.data_ptr() == x.data_ptr())};
})

BOTH(To, OptionsOfATensorThatRequiresGrad, {
  auto q = K::ones({2}, K::requires_grad());
  auto x = K::tensor({1, 2}, K::kInt);
  auto y = x.to(q.options());
  auto z = K::zeros({2}, q.options());
  return Items{dtypeOf(y), out(y.requires_grad()), out(z.requires_grad())};
})

BOTH(To, OptionsThatRequireGrad, {
  K::ones({2}).to(K::TensorOptions().requires_grad(true));
  return Items{};
})

BOTH(To, TheRequiresGradShorthand, {
  K::ones({2}, K::requires_grad()).to(K::requires_grad());
  return Items{};
})

BOTH(To, ADtypeThatRequiresGrad, {
  K::ones({2}).to(K::dtype(K::kDouble).requires_grad(true));
  return Items{};
})

BOTH(To, OptionsThatDoNotRequireGrad, {
  auto x = K::ones({2}, K::requires_grad());
  auto y = x.to(K::TensorOptions().requires_grad(false));
  auto z = x.to(K::TensorOptions());
  return Items{out(y.data_ptr() == x.data_ptr()), out(z.data_ptr() == x.data_ptr()),
               out(y.requires_grad())};
})

BOTH(To, CopyGivesNewMemory, {
  auto x = K::tensor({1.5, 2.5});
  auto a = x.to(K::kFloat, /*non_blocking=*/false, /*copy=*/true);
  auto b = x.to(x.options(), false, true);
  auto c = x.to(x, false, true);
  auto d = x.to(K::kCPU, K::kFloat, false, true);
  return Items{out(a), out(a.data_ptr() == x.data_ptr()), out(b.data_ptr() == x.data_ptr()),
               out(c.data_ptr() == x.data_ptr()), out(d.data_ptr() == x.data_ptr())};
})

BOTH(To, KeepsHistory, {
  auto q = K::tensor({1.5, -2.0}, K::requires_grad());
  auto y = q.to(K::kDouble);
  auto z = q.to(q.options());
  (y * y).sum().backward();
  return Items{fnName(y), out(y.requires_grad()), out(q.grad()), fnName(z)};
})

BOTH(To, AMemoryFormat, {
  auto x = K::ones({2, 3});
  auto a = x.to(K::kDouble, false, false, K::MemoryFormat::Contiguous);
  auto t = x.t();
  auto b = t.to(K::kFloat, false, false, K::MemoryFormat::Contiguous);
  auto c = x.to(x.options(), false, false, K::MemoryFormat::Preserve);
  auto d = x.to(x, false, false, K::MemoryFormat::Contiguous);
  return Items{dtypeOf(a), out(a.is_contiguous()), out(b.data_ptr() == t.data_ptr()),
               out(c.data_ptr() == x.data_ptr()), out(d.data_ptr() == x.data_ptr())};
})

// Each spelling of a CUDA device compiles in both; without CUDA both refuse it (in their own
// words: kiln's says CUDA is not supported yet).
BOTH(To, CudaSpellings, {
  auto x = K::ones({2});
  return Items{out(refused([&] { return x.to(K::kCUDA); })),
               out(refused([&] {
                 return x.to({K::kCUDA, 0});
               })),
               out(refused([&] { return x.to("cuda:0"); })),
               out(refused([&] { return x.to(K::Device(K::kCUDA, 0)); })),
               out(refused([&] { return x.to(K::kCUDA, K::kDouble); })),
               out(refused([&] { return x.to(K::TensorOptions().device(K::kCUDA)); }))};
})

// ---------------------------------------------------------------- indexing

namespace {

// The message `f` throws, as one item (both libraries' errors are compared as text).
template <typename F>
kiln_test::Item thrown(F f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return text(e.what());
  } catch (const c10::Error& e) {
    return text(kiln_test::asPython(e.msg()));
  } catch (const std::exception& e) {
    return text(std::string("not a library error: ") + e.what());
  }
  return text("no error");
}

// A leaf that requires grad, holding 0, 1, ... in the given shape.
template <typename T>
T counting(const T& like) {
  T x = like.detach().clone();
  x.requires_grad_();
  return x;
}

}  // namespace

#define ARANGE_LEAF(...) counting(K::arange(0., 24.).reshape(__VA_ARGS__))

BOTH(Index, EllipsisAsAString, {
  using namespace K::indexing;
  auto x = ARANGE_LEAF({2, 3, 4});
  auto a = x.index({"...", 1});
  auto b = x.index({0, "...", Slice(1, 3)});
  auto c = x.index({"..."});
  auto d = x.index({None, "...", None});
  (a.sum() + b.sum() * 2 + c.sum() * 3 + d.sum() * 4).backward();
  return Items{out(a),    out(b),    out(c),    out(d),       fnName(a),
               fnName(b), fnName(c), fnName(d), out(x.grad())};
})

BOTH(Index, AStringOtherThanEllipsis, {
  auto x = K::ones({2, 3});
  return Items{out(x.index({"abc"}))};
})

BOTH(Index, TheKindOfEachIndex, {
  using K::indexing::TensorIndex;
  return Items{out(TensorIndex("...").is_ellipsis()),
               out(TensorIndex(true).is_boolean()),
               out(TensorIndex(false).boolean()),
               out(TensorIndex(3).is_integer()),
               out(TensorIndex(int64_t{3}).integer() == 3),
               out(TensorIndex(K::indexing::None).is_none()),
               out(TensorIndex(K::indexing::Slice()).is_slice())};
})

BOTH(Index, SliceBounds, {
  using namespace K::indexing;
  Slice all, back(None, None, -1), from(2), stepped(1, None, 2), big(INDEX_MIN + 1, INDEX_MAX);
  return Items{out(all.start() == 0),
               out(all.stop() == INDEX_MAX),
               out(all.step() == 1),
               out(back.start() == INDEX_MAX),
               out(back.stop() == INDEX_MIN),
               out(back.step() == -1),
               out(from.start() == 2),
               out(from.stop() == INDEX_MAX),
               out(stepped.step() == 2),
               out(big.start() == INDEX_MIN + 1),
               out(Slice(0, 1, INDEX_MIN).step() == -INDEX_MAX)};
})

BOTH(Index, SlicesWithInt64Bounds, {
  using namespace K::indexing;
  auto x = K::arange(0., 10.);
  return Items{out(x.index({Slice(int64_t{2}, INDEX_MAX)})),
               out(x.index({Slice(-100, 100)})),
               out(x.index({Slice(int64_t{-3}, None)})),
               out(x.index({Slice(None, int64_t{-7}, 3)})),
               out(x.index({Slice(7, 2)})),
               out(x.index({Slice(1, None, 4)}))};
})

BOTH(Index, ZeroSliceStep, {
  auto x = K::ones({3});
  return Items{out(x.index({K::indexing::Slice(0, 2, 0)}))};
})

BOTH(Index, NegativeSliceStep, {
  auto x = K::ones({3});
  return Items{out(x.index({K::indexing::Slice(K::indexing::None, K::indexing::None, -1)}))};
})

BOTH(Index, NoIndices, {
  auto x = K::ones({2, 3});
  return Items{out(x.index({}))};
})

BOTH(Index, NoIndicesToPut, {
  auto x = K::ones({2, 3});
  return Items{thrown([&] { x.index_put_({}, 1); }),
               thrown([&] { x.index_put_({}, K::zeros({3})); }), out(x)};
})

BOTH(Index, AZeroDimTensor, {
  auto s = K::tensor(1.5);
  return Items{thrown([&] { s.index({0}); }),
               thrown([&] {
                 s.index({0, 0});
               }),
               thrown([&] {
                 s.index({"...", 0});
               }),
               thrown([&] { s[0]; }),
               out(s.index({"..."})),
               out(s.index({K::indexing::None}))};
})

BOTH(Index, OutOfRange, {
  using namespace K::indexing;
  auto x = K::ones({2, 3});
  auto y = K::ones({2, 3, 4});
  return Items{thrown([&] {
                 x.index({None, 5});
               }),
               thrown([&] {
                 x.index({"...", 5});
               }),
               thrown([&] {
                 x.index({0, 7});
               }),
               thrown([&] { x.index({-3}); }),
               thrown([&] {
                 x.index({Slice(), 3});
               }),
               thrown([&] {
                 y.index({"...", 4});
               }),
               thrown([&] {
                 y.index({0, None, -4});
               }),
               thrown([&] {
                 x.index({0, 0, 0});
               }),
               thrown([&] { x[2]; })};
})

BOTH(Index, GradFnNames, {
  using namespace K::indexing;
  auto x = ARANGE_LEAF({2, 3});
  std::vector<std::vector<K::indexing::TensorIndex>> lists = {{Slice(), 0},
                                                              {0, Slice()},
                                                              {"..."},
                                                              {Slice(), Slice()},
                                                              {None},
                                                              {0, None},
                                                              {Slice(1)},
                                                              {Slice()},
                                                              {Slice(), None},
                                                              {Ellipsis, 1},
                                                              {None, "..."},
                                                              {Slice(0, 3), 1},
                                                              {1, Slice(0, 3)},
                                                              {1, "..."},
                                                              {Slice(), Slice(1)},
                                                              {Slice(0, 2), Slice(0, 3)},
                                                              {Slice(0, 2, 1), "..."},
                                                              {0, Slice(0, 3)}};
  Items items;
  K::Tensor total = K::zeros({});
  for (size_t i = 0; i < lists.size(); ++i) {
    auto y = x.index(lists[i]);
    items.push_back(out(y));
    items.push_back(fnName(y));
    total = total + y.sum() * static_cast<double>(i + 1);
  }
  total.backward();
  items.push_back(out(x.grad()));
  return items;
})

BOTH(Index, PutThroughEllipsisString, {
  auto x = K::zeros({2, 3});
  x.index_put_({"...", 1}, 7);
  x.index_put_({1, "..."}, K::tensor({1.0f, 2.0f, 3.0f}));
  return Items{out(x)};
})

// ---------------------------------------------------------------- assignment through indexing

BOTH(Assign, ANumberThroughSubscripts, {
  auto t = K::zeros({2, 3});
  t[0][1] = 1;
  t[1][2] = 2.5;
  t[1] = t[1] + 1;
  return Items{out(t)};
})

BOTH(Assign, ATensorThroughIndex, {
  using namespace K::indexing;
  auto t = K::zeros({3, 4});
  t.index({0}) = K::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  t.index({Slice(1), Slice(None, None, 2)}) = K::tensor({7.0f, 8.0f});  // broadcast
  t.index({"...", 3}) = 9;
  t.index({2, 1}) = K::tensor(-1.0);  // 0-dim: fills, whatever its dtype
  auto other = K::ones({4}, K::kInt);
  t[1] = other;  // an lvalue on the right: still a copy into t
  return Items{out(t), dtypeOf(t), out(other)};
})

BOTH(Assign, ToANamedTensorRebinds, {
  auto a = K::zeros({2});
  auto b = a;
  b = K::ones({2});
  K::Tensor c = a;
  c = std::move(b);
  return Items{out(a), out(c), out(a.data_ptr() == c.data_ptr())};
})

BOTH(Assign, HistoryIsCopySlices, {
  auto w = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto base = K::zeros({2, 3}, K::kDouble);
  base[0][0] = 5;
  auto before = fnName(base);
  base.index({1}) = w * 2;
  auto after = fnName(base);
  base[0][1] = w[2];
  (base * base).sum().backward();
  return Items{before, after, fnName(base), out(base), out(w.grad())};
})

BOTH(Assign, ShapeMismatch, {
  auto t = K::zeros({2, 3});
  t[0] = K::ones({2});
  return Items{out(t)};
})

BOTH(Subscript, ANumberOrA0DimTensor, {
  auto x = K::arange(0., 6.).reshape({2, 3});
  return Items{out(x[K::Scalar(1)]),
               out(x[K::tensor(1)]),
               out(x[K::tensor(-1, K::kInt)]),
               out(x[1][K::tensor(2)]),
               thrown([&] { x[K::Scalar(1.5)]; }),
               thrown([&] { x[K::Scalar(true)]; }),
               thrown([&] { x[K::tensor(1.0)]; }),
               thrown([&] { x[K::tensor(true)]; }),
               thrown([&] { x[K::tensor({1})]; }),
               thrown([&] { x[K::Tensor()]; }),
               thrown([&] { x[K::tensor(5)]; })};
})

// ---------------------------------------------------------------- tensor({...})

BOTH(TensorData, RaggedLists, {
  return Items{thrown([] {
                 K::tensor({{1, 2}, {3}});
               }),
               thrown([] {
                 K::tensor({{1.5, 2.25}, {3.5}});
               }),
               thrown([] {
                 K::tensor({{1.5f, 2.25f}, {3.5f}});
               }),
               thrown([] {
                 K::tensor({{true, false}, {true}});
               }),
               thrown([] {
                 K::tensor({{{1, 2}}, {3, 4}});
               }),
               thrown([] {
                 K::tensor({{1, 2}, 3});
               }),
               thrown([] {
                 K::tensor({1, {2, 3}});
               }),
               thrown([] {
                 K::tensor({{0.1, 1e10, -2.0}, {1.0 / 3}});
               }),
               thrown([] {
                 K::tensor({std::vector<int>{1, 2}, std::vector<int>{3}});
               })};
})

BOTH(TensorData, MixedLiteralTypes, {
  return Items{
      thrown([] { K::tensor({1, 2.5}); }),        thrown([] { K::tensor({5.5, 3}); }),
      thrown([] { K::tensor({1, int64_t{2}}); }), thrown([] { K::tensor({{1, 2}, {3.5, 4.5}}); }),
      thrown([] { K::tensor({true, 1}); }),       thrown([] { K::tensor({1.5f, 2.5}); })};
})

BOTH(TensorData, TypesOfHomogeneousLists, {
  auto a = K::tensor({1, 2});
  auto b = K::tensor({int64_t{1}, int64_t{2}});
  auto c = K::tensor({1.5f, 2.5f});
  auto d = K::tensor({1.5, 2.5});
  auto e = K::tensor({true, false});
  auto f = K::tensor(std::vector<double>{1.0, 2.0});
  auto h = K::tensor({});
  auto i = K::tensor({1, 2}, K::kDouble);
  auto j = K::tensor(7);
  return Items{out(a), dtypeOf(a), dtypeOf(b), dtypeOf(c), dtypeOf(d), out(e), dtypeOf(e),
               out(f), dtypeOf(f), out(h),     dtypeOf(h), dtypeOf(i), out(j), dtypeOf(j)};
})

// ---------------------------------------------------------------- autograd::grad, var(0)

BOTH(Grad, NoInputs, {
  auto x = K::ones({2}, K::requires_grad());
  return Items{thrown([&] { K::autograd::grad({(x * 2).sum()}, {}); }),
               thrown([&] { K::autograd::grad({x * 2}, {}); }),
               thrown([&] { K::autograd::grad({K::ones({})}, {}); })};
})

BOTH(Reduce, VarAndStdOfAnIntAreOverThatDim, {
  auto x = counting(K::tensor({{1.0, 2.0, 4.0}, {3.0, 7.0, 5.0}}));
  auto v = x.var(0);
  auto s = x.std(1);
  auto fv = K::var(x, 1);
  auto fs = K::std(x, 0);
  (v.sum() + s.sum() + fv.sum() + fs.sum()).backward();
  return Items{out(v),
               out(s),
               out(fv),
               out(fs),
               out(x.var(true)),
               out(x.var(false)),
               out(x.std(false)),
               out(x.grad())};
})

// ---------------------------------------------------------------- TensorOptions

BOTH(Options, ADeviceTypeAndIndex, {
  auto o = K::TensorOptions().device(K::kCUDA, 1);
  auto p = K::TensorOptions().device("cuda:2");
  auto q = K::TensorOptions().device(K::Device(K::kCPU));
  auto r = K::TensorOptions().device_index(3);
  std::ostringstream os;
  os << o.device() << " " << o.device_index() << " " << p.device_index() << " " << q.device_index()
     << " " << K::TensorOptions().device_index() << " " << r.device();
  return Items{text(os.str()), out(o.device().is_cuda()), out(r.device().is_cuda()),
               out(refused([&] { return K::zeros({2}, o); }))};
})

// ---------------------------------------------------------------- const handles, grad()

namespace {
// Code written against libtorch's signatures: in-place methods on a const reference.
template <typename T>
void scaleInPlace(const T& x) {
  x.mul_(2).add_(1);
  x.exp_().log_();
  x.clamp_(0, 100);
}
}  // namespace

BOTH(Const, InPlaceOnAConstReference, {
  const auto x = K::tensor({1.0, 2.0, 3.0});
  scaleInPlace(x);
  x.copy_(x * 2);
  x.fill_(x[0]);
  x.zero_().add_(4);
  return Items{out(x)};
})

BOTH(Const, GradIsAReferenceToTheSlot, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  const auto& before = x.grad();
  bool undefined = !before.defined();
  (x * x).sum().backward();
  const K::Tensor& g = x.grad();
  auto copy = g;
  {
    K::NoGradGuard guard;
    x.grad().zero_();
  }
  return Items{out(undefined), out(copy), out(g), out(&g == &x.grad())};
})

// ---------------------------------------------------------------- members that were missing

BOTH(Members, NanInfFinite, {
  const double inf = std::numeric_limits<double>::infinity();
  auto x = K::tensor({1.0, std::nan(""), inf, -inf, -0.0});
  auto i = K::tensor({1, 2});
  auto f = K::tensor({1.5f, -2.0f}) / 0;
  return Items{out(x.isnan()),   dtypeOf(x.isnan()), out(x.isinf()),      out(x.isfinite()),
               out(K::isnan(i)), out(K::isinf(i)),   out(K::isfinite(i)), dtypeOf(i.isinf()),
               out(f.isinf()),   out(f.isfinite())};
})

BOTH(Members, AllAndAny, {
  auto x = K::tensor({{1.0, 0.0, 2.0}, {3.0, 4.0, std::nan("")}});
  auto e = K::zeros({0});
  return Items{out(x.all()),
               dtypeOf(x.all()),
               out(x.any()),
               out(x.all(1)),
               out(x.any(0, true)),
               out(x.all(-1, true)),
               out(K::all(x > -1)),
               out(K::any(x > 3, 1)),
               out(e.all()),
               out(e.any()),
               out(K::tensor({true, false}).all()),
               thrown([&] { x.all(3); })};
})

BOTH(Members, NormValuesAndGrads, {
  auto x = counting(K::tensor({{3.0, -4.0, 0.0}, {1.0, -1.0, 2.0}}));
  const std::vector<int64_t> both = {0, 1};
  std::vector<K::Tensor> ns = {x.norm(),
                               x.norm(1),
                               x.norm(0),
                               x.norm(3),
                               x.norm(0.5),
                               x.norm(std::numeric_limits<double>::infinity()),
                               x.norm(-std::numeric_limits<double>::infinity()),
                               x.norm(2, {1}),
                               x.norm(1, {0}, true),
                               x.norm(std::numeric_limits<double>::infinity(), {1}),
                               x.norm(1.5, {-1}),
                               K::norm(x),
                               K::norm(x, 3, both)};
  Items items;
  K::Tensor total = K::zeros({});
  for (size_t i = 0; i < ns.size(); ++i) {
    items.push_back(out(ns[i]));
    items.push_back(fnName(ns[i]));
    total = total + ns[i].sum() * static_cast<double>(i + 1);
  }
  total.backward();
  items.push_back(out(x.grad()));
  return items;
})

BOTH(Members, NormAtZeroAndTies, {
  auto z = K::zeros({3}, K::requires_grad());
  auto t = K::tensor({2.0, -2.0, 1.0}, K::requires_grad());
  (z.norm() + z.norm(3) + z.norm(1.5) + t.norm(std::numeric_limits<double>::infinity())).backward();
  return Items{out(z.grad()), out(t.grad())};
})

BOTH(Members, NormErrors, {
  auto x = K::ones({2, 3});
  auto i = K::tensor({1, 2});
  return Items{thrown([&] { x.norm(2, {5}); }), thrown([&] { i.norm(); }),
               thrown([&] { i.norm(1, {0}); })};
})

BOTH(Members, VarMeanAndStdMean, {
  auto x = counting(K::tensor({{1.0, 2.0, 4.0}, {3.0, 7.0, 5.0}}));
  auto [v, m] = K::var_mean(x);
  auto [v0, m0] = K::var_mean(x, 0);
  auto [v1, m1] = K::var_mean(x, {1}, false, true);
  auto [s, sm] = K::std_mean(x, false);
  auto [s1, sm1] = K::std_mean(x, 1);
  (v + m * 2 + v0.sum() + m0.sum() + v1.sum() * 3 + s + sm + s1.sum() + sm1.sum()).backward();
  return Items{out(v), out(m),  out(v0), out(m0),  out(v1),      out(m1),
               out(s), out(sm), out(s1), out(sm1), out(x.grad())};
})

BOTH(Members, TypeAs, {
  auto x = K::tensor({1.5, -2.5}, K::requires_grad());
  auto i = x.type_as(K::zeros({1}, K::kInt));
  auto d = x.type_as(K::zeros({1}, K::kDouble));
  auto same = x.type_as(K::zeros({3}));
  (d * d).sum().backward();
  return Items{out(i),    dtypeOf(i),           fnName(i),    dtypeOf(d),
               fnName(d), out(same.is_same(x)), out(x.grad())};
})

BOTH(Members, Information, {
  auto x = K::ones({2, 3});
  auto b = K::tensor({true});
  auto y = x;
  std::ostringstream os;
  os << x.layout();
  return Items{text(std::to_string(x.get_device())),
               out(x.is_signed()),
               out(b.is_signed()),
               out(K::tensor({1, 2}).is_signed()),
               out(x.is_floating_point()),
               out(K::tensor({1}).is_floating_point()),
               out(y.is_same(x)),
               out(x.is_same(x.view({6}))),
               out(x.layout() == K::kStrided),
               text(os.str())};
})

BOTH(Members, OutputNr, {
  auto x = K::tensor({{1.0, 5.0}, {4.0, 2.0}}, K::requires_grad());
  auto [values, indices] = x.max(1);
  auto y = x * 2;
  return Items{text(std::to_string(x.output_nr())), text(std::to_string(y.output_nr())),
               text(std::to_string(values.output_nr())), text(std::to_string(indices.output_nr()))};
})

BOTH(Members, CloneFreeFunction, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  auto c = K::clone(x);
  auto d = K::clone(x.view({2, 1}).t());
  (c * 3).sum().backward();
  return Items{
      out(c),       fnName(c), out(c.data_ptr() == x.data_ptr()), out(d), out(d.is_contiguous()),
      out(x.grad())};
})

BOTH(Members, DetachInPlace, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  auto y = x * 2;
  auto& r = y.detach_();
  auto z = y * 3;
  return Items{out(y.requires_grad()),
               out(y.is_leaf()),
               fnName(y),
               out(&r == &y),
               out(z.requires_grad()),
               out(y),
               thrown([&] { x.view({2}).detach_(); })};
})

BOTH(Members, SetData, {
  auto w = K::ones({2});
  w.set_data(K::zeros({3}, K::kDouble));
  auto q = K::ones({2}, K::requires_grad());
  q.set_data(K::tensor({1.0f, 2.0f, 3.0f}));
  (q * q).sum().backward();
  return Items{out(w), dtypeOf(w), out(q.requires_grad()), out(q), out(q.grad()), out(q.is_leaf())};
})

// ---------------------------------------------------------------- autograd::backward, Variable

BOTH(Backward, VariablesAndLists, {
  K::autograd::Variable x = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  K::autograd::variable_list roots = {(x * x).sum(), (x * 2).sum()};
  K::autograd::tensor_list none;
  K::autograd::backward(roots);
  auto first = x.grad().clone();
  K::autograd::backward({(x * 3).sum()}, none);
  return Items{out(first), out(x.grad())};
})

BOTH(Backward, GivenGradients, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  auto y = x * x;
  auto z = x * 3;
  // An undefined gradient stands for ones where the output has one element.
  K::autograd::backward({y, z.sum()}, {K::tensor({1.0, 0.5}), K::Tensor()});
  return Items{out(x.grad())};
})

BOTH(Backward, ImplicitGradientsOnlyForScalars, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  return Items{thrown([&] { K::autograd::backward({x * 2}); }), thrown([&] {
                 K::autograd::backward({(x * 2).sum(), x * 2}, {K::Tensor(), {}});
               }),
               thrown([&] { (x * 2).backward(); }), out(x.grad())};
})

BOTH(Backward, GradientCountsMustMatch, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  return Items{thrown([&] {
                 K::autograd::backward({x.sum(), x.prod()}, {K::ones({})});
               }),
               thrown([&] {
                 K::autograd::grad({x.sum(), x.prod()}, {x}, {K::ones({})});
               }),
               thrown([&] {
                 K::autograd::backward({x.sum(), K::ones({})});
               }),
               thrown([&] {
                 K::autograd::backward({x.sum(), K::ones({2})}, {K::ones({}), K::ones({2})});
               }),
               thrown([&] { K::autograd::backward({x * 2}, {K::ones({3})}); }),
               out(x.grad())};
})

BOTH(Backward, RetainGraphDefaultsToCreateGraph, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  auto l = (x * x * x).sum();
  K::autograd::backward({l}, {}, K::nullopt, /*create_graph=*/true);
  auto g = x.grad().clone();
  K::autograd::backward({l});  // the graph was retained
  auto second = K::autograd::grad({g.sum()}, {x});
  auto m = (x.exp()).sum();
  K::autograd::backward({m}, {}, false);
  return Items{out(g.requires_grad()), out(x.grad()), out(second[0]),
               thrown([&] { K::autograd::backward({m}); })};
})

BOTH(Backward, InputsLimitWhatIsAccumulated, {
  auto a = K::tensor({1.0, 2.0}, K::requires_grad());
  auto b = K::tensor({3.0, 4.0}, K::requires_grad());
  auto l = (a * b).sum();
  K::autograd::backward({l}, {}, true, false, {a});
  auto a1 = a.grad().clone();
  bool b_untouched = !b.grad().defined();
  K::autograd::backward({l}, {}, K::nullopt, false, {b, a});
  return Items{out(a1), out(b_untouched), out(a.grad()), out(b.grad())};
})

BOTH(Backward, ANonLeafInputRetainsItsGradient, {
  auto a = K::tensor({1.0, 2.0}, K::requires_grad());
  auto b = K::tensor({3.0, 4.0}, K::requires_grad());
  auto m = a * 2;
  auto l = (m * b).sum();
  K::autograd::backward({l}, {}, true, false, {m});
  auto m1 = m.grad().clone();
  bool others = a.grad().defined() || b.grad().defined();
  // From now on m retains its gradient in every pass, as libtorch's retain_grad.
  l.backward({}, true);
  return Items{out(m1),       out(others),   out(m.retains_grad()),
               out(m.grad()), out(a.grad()), out(b.grad())};
})

BOTH(Backward, InputsThatDoNotRequireGrad, {
  auto a = K::tensor({1.0, 2.0}, K::requires_grad());
  auto c = K::tensor({1.0, 2.0});
  auto l = (a * c).sum();
  return Items{thrown([&] { K::autograd::backward({l}, {}, true, false, {c}); }),
               thrown([&] { K::autograd::backward({c.sum()}); }), out(a.grad())};
})

BOTH(Backward, TheTensorMember, {
  auto a = K::tensor({1.0, 2.0}, K::requires_grad());
  auto b = K::tensor({3.0, 4.0}, K::requires_grad());
  auto l = (a * b * b).sum();
  l.backward({}, true);
  auto a1 = a.grad().clone();
  l.backward(K::Tensor(), K::nullopt, false, {b});
  auto y = a * b;
  y.backward(K::tensor({1.0, -1.0}), false, false, K::TensorList(a));
  std::vector<K::Tensor> none;
  return Items{out(a1), out(a.grad()), out(b.grad()),
               thrown([&] { (a * 2).sum().backward({}, false, false, none); })};
})

// ---------------------------------------------------------------- from_blob with a deleter

// When the deleter runs while work is pending on the memory is kiln's own (test/ops_test.cpp):
// here only what both libraries agree on once the results have been read.
BOTH(FromBlob, TheDeleterRunsOnceWhenTheLastUserHasGone, {
  int deleted = 0;
  std::vector<float> memory = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  K::Tensor r, w;
  {
    auto t = K::from_blob(memory.data(), {2, 3}, [&](void*) { ++deleted; });
    auto v = t.t();
    t = K::Tensor();
    r = (v * 2).sum(0);
  }
  auto rv = out(r);
  r = K::Tensor();
  int first = deleted;
  {
    auto s = K::from_blob(
        memory.data(), {2, 2}, {1, 2}, [&](void* p) { deleted += p == memory.data() ? 10 : 100; },
        K::kFloat);
    w = s * 1;
  }
  auto wv = out(w);
  w = K::Tensor();
  return Items{rv, wv, text(std::to_string(first)), text(std::to_string(deleted))};
})

BOTH(FromBlob, OptionsAndGrad, {
  int deleted = 0;
  std::vector<double> memory = {1.0, 2.0, 3.0};
  {
    auto t = K::from_blob(
        memory.data(), {3}, [&](void*) { ++deleted; },
        K::TensorOptions().dtype(K::kDouble).requires_grad(true));
    (t * t).sum().backward();
    auto g = out(t.grad());
    memory[0] = 7.0;  // the tensor is the memory
    return Items{out(t), g, out(t.requires_grad()), dtypeOf(t), out(deleted == 0)};
  }
})

// ---------------------------------------------------------------- data()

BOTH(Data, SharesStorageWithoutHistory, {
  auto a = K::tensor({1.0, 2.0}, K::requires_grad());
  auto m = a * 3;
  auto d = m.data();
  auto v = m.view({2, 1}).data();
  return Items{out(d),
               out(d.requires_grad()),
               out(d.is_leaf()),
               fnName(d),
               out(d.data_ptr() == m.data_ptr()),
               out(v.sizes() == K::IntArrayRef({2, 1})),
               out(a.data().requires_grad())};
})

BOTH(Data, ChangesThroughItAreNotCounted, {
  auto a = K::tensor({1.0, 2.0}, K::requires_grad());
  auto b = a.exp();
  auto d = b.data();
  d.mul_(2);  // exp saved b; libtorch does not see this change, and backward reads the new b
  b.sum().backward();
  auto c = a * 1;
  auto e = c.detach();
  auto y = c.sin();
  e.mul_(2);  // detach shares the version counter: this one is seen
  return Items{
      out(a.grad()), text(std::to_string(b._version())), text(std::to_string(d._version())),
      out(b),        text(std::to_string(c._version())), thrown([&] { y.sum().backward(); })};
})

BOTH(Data, ASavedDataTensorCountsItsOwnChanges, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  auto w = K::tensor({3.0, 4.0});
  auto w_version = w._version();  // libtorch's tensor() starts at 2
  auto d = w.data();
  auto y = (x * d).sum();
  d.add_(1);
  auto dv = d.view({2});
  dv.add_(1);
  return Items{text(std::to_string(d._version())), text(std::to_string(dv._version())),
               text(std::to_string(w._version() - w_version)), thrown([&] { y.backward(); })};
})

// ---------------------------------------------------------------- memory formats

BOTH(MemoryFormat, CloneContiguousAndLike, {
  auto x = K::tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, K::requires_grad());
  auto t = x.t();
  auto a = t.clone(K::MemoryFormat::Contiguous);
  auto b = K::clone(t, K::MemoryFormat::Contiguous);
  auto c = t.contiguous(K::MemoryFormat::Contiguous);
  auto d = x.contiguous(K::MemoryFormat::Contiguous);
  auto e = x.clone(K::nullopt);
  auto f = K::zeros_like(t, K::kDouble, K::MemoryFormat::Contiguous);
  auto g = K::ones_like(x, {}, K::MemoryFormat::Preserve);
  auto h = K::full_like(x, 2, {}, K::MemoryFormat::Contiguous);
  auto i = K::empty_like(t, K::kInt, K::MemoryFormat::Contiguous);
  (a.sum() + c.sum() * 2).backward();
  return Items{out(a),
               out(a.is_contiguous()),
               fnName(a),
               out(b),
               out(c),
               out(c.is_contiguous()),
               fnName(c),
               out(d.is_same(x)),
               out(e),
               out(f),
               dtypeOf(f),
               out(f.is_contiguous()),
               out(g),
               out(h),
               dtypeOf(i),
               out(i.sizes() == t.sizes()),
               out(i.is_contiguous()),
               out(x.grad()),
               thrown([&] { t.contiguous(K::MemoryFormat::Preserve); })};
})

// ---------------------------------------------------------------- found by random programs
// Each case is a bug that the randomized differential test (random programs on both libraries)
// found: the seed's program, reduced.

BOTH(RandomFound, MessagesForBoolOperands, {
  auto b = K::tensor({true, false});
  auto f = K::tensor(1.5);
  return Items{thrown([&] { b.sub(f); }),
               thrown([&] { f.sub(b); }),
               thrown([&] { b.sub(b); }),
               thrown([&] { b.sub(true); }),
               thrown([&] { b.pow(b); }),
               thrown([&] { b.pow(true); }),
               dtypeOf(b.pow(2)),
               thrown([&] { b.relu(); }),
               thrown([&] { b.abs(); }),
               thrown([&] { b.argmax(); }),
               thrown([&] { b.argmin(0, true); }),
               out(K::tensor({{true}}).argmax(-1)),
               out(K::zeros({3, 0, 2}, K::kBool).argmax(-1)),
               out(K::tensor({{true, false}}).argmin(0))};
})

BOTH(RandomFound, ClampInPlaceNamesTheCppType, {
  return Items{thrown([&] {
                 K::tensor({true, false}).clamp_(1.5, 2.5);
               }),
               thrown([&] {
                 K::tensor({1, 2}).clamp_(1.5, 2.5);
               }),
               thrown([&] {
                 K::tensor({1, 2}, K::kInt).clamp_(1.5, 2.5);
               }),
               thrown([&] {
                 K::tensor({1, 2}, K::kInt).add_(1.5);
               })};
})

BOTH(RandomFound, EmptyReductionDimsAsGiven, {
  auto z = K::zeros({3, 0});
  return Items{thrown([&] { z.amax({-1}); }),
               thrown([&] {
                 z.amin({-1, 0});
               }),
               thrown([&] { z.max(-1); }),
               thrown([&] { K::zeros({0}).argmin(-1); }),
               thrown([&] {
                 K::zeros({0, 4}).amin({0, 0});
               }),
               thrown([&] {
                 K::zeros({2, 4}).amax({1, -1});
               }),
               dtypeOf(K::zeros({1, 0}, K::kInt).log_softmax(0))};
})

BOTH(RandomFound, NotDifferentiableFloorDivide, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  // libtorch's NotImplemented node throws a std::runtime_error, not a c10::Error.
  try {
    x.floor_divide(2).sum().backward();
  } catch (const std::exception& e) {
    return Items{text(e.what())};
  }
  return Items{};
})

BOTH(RandomFound, CopyFromATensorWithHistoryZeroesTheOldOne, {
  auto w = K::tensor({1.0, 2.0}, K::requires_grad());
  auto s = K::tensor({3.0, 4.0}, K::requires_grad());
  auto y = w * 2;
  y.copy_(s * 3);
  y.sum().backward();
  return Items{fnName(y), out(w.grad()), out(s.grad())};
})

BOTH(RandomFound, InPlaceOnTheSoftmaxOfAZeroDimTensor, {
  auto x = K::tensor(1.5, K::requires_grad());
  auto y = (x * 2).softmax(0);
  y.mul_(3);
  auto z = (x * 2).log_softmax(-1);
  z.add_(1);
  (y + z).backward();
  return Items{out(y.requires_grad()), fnName(y), out(z.requires_grad()), out(y), out(z),
               out(x.grad())};
})

BOTH(RandomFound, CatOfEmptyTensorsKeepsHistory, {
  auto a = K::zeros({0});
  auto b = K::zeros({0}, K::requires_grad());
  auto c = K::cat({a, b}, 0);
  return Items{out(c.requires_grad()), fnName(c), out(c)};
})

BOTH(RandomFound, FmodByZeroGradientIsInfinite, {
  auto a = K::tensor(2.5, K::requires_grad());
  auto b = K::tensor({0.0, 1.5, -1.0}, K::requires_grad());
  a.fmod(b).sum().backward();
  auto c = K::tensor({0.0, 2.0}, K::requires_grad());
  K::tensor({3.0, 3.0}).remainder(c).sum().backward();
  return Items{out(a.grad()), out(b.grad()), out(c.grad())};
})

BOTH(RandomFound, ClampAndReluSelectTheirGradient, {
  // An infinite or NaN gradient where the input is clamped or below zero gives 0 there.
  auto x = K::tensor({-1.0, 2.0, 0.5}, K::requires_grad());
  auto n = K::tensor({0.0, 0.0, 0.0});
  (x.clamp(0, 1) / n).sum().backward();
  auto g1 = x.grad().clone();
  x.mutable_grad() = K::Tensor();
  (x.relu() * K::tensor({std::nan(""), 1.0, std::nan("")})).sum().backward();
  auto g2 = x.grad().clone();
  // relu(NaN) is NaN, which is not <= 0: the gradient passes, as libtorch's threshold_backward.
  auto m = K::tensor({-1.0, 4.0}, K::requires_grad());
  m.log().relu().sum().backward();
  return Items{out(g1), out(g2), out(m.grad())};
})

BOTH(RandomFound, InPlaceWritesIntoBlobMemoryLand, {
  std::vector<float> memory = {1.0f, 2.0f, 3.0f, 4.0f};
  float seen = 0;
  {
    auto t = K::from_blob(memory.data(), {4}, [&](void*) { seen = memory[1]; });
    t.narrow(0, 1, 2).add_(10);
  }
  K::from_blob(memory.data(), {2, 2}).t().mul_(2);
  return Items{out(K::from_blob(memory.data(), {4}).clone()), text(std::to_string(seen))};
})

BOTH(RandomFound, ExpandAZeroDimTensorToANegativeSize, {
  auto s = K::tensor(1.0);
  return Items{thrown([&] { s.expand({-1}); }), thrown([&] {
                 s.expand({2, -1});
               }),
               thrown([&] {
                 K::ones({2}).expand({-1, 2});
               }),
               out(s.expand({2, 3}))};
})

BOTH(RandomFound, ShapesAreCheckedBeforeTheKernelRefusesADtype, {
  auto b = K::ones({4, 4}, K::kBool);
  auto c = K::ones({2}, K::kBool);
  return Items{thrown([&] { b.remainder(c); }),
               thrown([&] { b.fmod(c); }),
               thrown([&] { b.floor_divide(c); }),
               thrown([&] { b.pow(c); }),
               thrown([&] { K::ones({4}, K::kLong).floor_divide(K::zeros({2}, K::kLong)); }),
               thrown([&] { b.remainder(K::ones({4}, K::kBool)); }),
               thrown([&] { K::ones({2}, K::kLong).floor_divide(0); }),
               dtypeOf(K::zeros({0}, K::kLong).floor_divide(0)),
               dtypeOf(K::zeros({2, 0}, K::kInt).remainder(0))};
})

BOTH(RandomFound, MaximumAndMinimumOfANaNPassTheGradientToBoth, {
  auto a = K::tensor({std::nan(""), 1.0, 2.0, 3.0}, K::requires_grad());
  auto b = K::tensor({1.0, std::nan(""), 2.0, 1.0}, K::requires_grad());
  (a.maximum(b) * 2 + a.minimum(b) * 3).sum().backward();
  return Items{out(a.grad()), out(b.grad())};
})

BOTH(RandomFound, PowOfTwoTensorsSavesItsResult, {
  // Saved even though the exponent needs no gradient: changing it is refused.
  auto x = K::tensor({1.5, 2.0}, K::requires_grad());
  auto z = (x * 1).pow(K::tensor({2.0, 3.0}));
  z.relu_();
  return Items{thrown([&] { z.sum().backward(); })};
})

BOTH(RandomFound, AnInPlaceOpOnAnEmptyTensorCounts, {
  auto x = K::zeros({3, 0}, K::requires_grad());
  auto y = x.sigmoid();
  y.sub_(1);
  return Items{text(std::to_string(y._version())), thrown([&] { y.sum().backward(); })};
})

BOTH(RandomFound, CopyIntoALeafIsRefusedBeforeItsShapeIsChecked, {
  auto x = K::tensor(1.5, K::requires_grad());
  return Items{thrown([&] { x.copy_(K::ones({3})); }),
               thrown([&] { K::ones({2}).copy_(K::ones({3})); })};
})

BOTH(RandomFound, CopyBackwardsIsNamedWithItsNamespace, {
  auto x = K::tensor({1.0, 2.0}, K::requires_grad());
  auto y = x.exp();
  y.copy_(K::tensor(0.5, K::requires_grad()));
  auto z = y * y;
  y.add_(1);
  return Items{text(y.grad_fn() ? y.grad_fn()->name() : "None"),
               thrown([&] { z.sum().backward(); })};
})

BOTH(RandomFound, PowExponentGradientAtAZeroBaseTimesAnInfiniteGradient, {
  auto e = K::tensor({2.5, -3.0}, K::requires_grad());
  auto base = K::tensor({0.0, 2.0});
  auto p = base.pow(e);
  (p * K::tensor({std::numeric_limits<double>::infinity(), 1.0})).sum().backward();
  auto f = K::tensor({2.5, 1.0}, K::requires_grad());
  (K::pow(0, f) * std::numeric_limits<double>::infinity()).sum().backward();
  return Items{out(e.grad()), out(f.grad())};
})

BOTH(RandomFound, MeanOverDimsSavesItsInput, {
  auto x = K::tensor({{1.0, 2.0, 3.0}}, K::requires_grad());
  auto y = x * 1;
  auto m = y.mean({0});
  auto a = y.mean();
  y.add_(1);
  return Items{thrown([&] { m.sum().backward(); }), thrown([&] { a.backward(); }), out(x.grad())};
})
