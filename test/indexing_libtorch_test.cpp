// kiln against libtorch 1.13 for issue 11's advanced indexing: index and index_put_ with index
// tensors, masks and literal bools mixed with slices, None and Ellipsis; gather, scatter,
// scatter_add, index_select, masked_fill, masked_select, nonzero and embedding; their errors,
// their grad_fns and their gradients. Written once, compiled against both libraries
// (test/libtorch_compare.h).
#include <sstream>
#include <string>
#include <vector>

#include "test/libtorch_compare.h"

// ---------------------------------------------------------------- index

BOTH(AdvancedIndex, IntegerTensors, {
  using namespace K::indexing;
  auto x = K::arange(24.).view({2, 3, 4});
  auto i = K::tensor({2, 0, 2});
  auto j = K::tensor({1, 3, 0});
  return Items{out(x.index({i.remainder(2)})),
               out(x.index({Slice(), i})),
               out(x.index({Slice(), i, j})),
               out(x.index({0, i, j})),
               out(x.index({"...", j})),
               out(x.index({i.remainder(2), Slice(), j})),
               out(x.index({None, Slice(), K::tensor({-1, -3})})),
               out(x.index({Slice(1, None), i.view({3, 1}), j.view({1, 3})}))};
})

BOTH(AdvancedIndex, NonAdjacentIndicesComeFirst, {
  using namespace K::indexing;
  auto x = K::arange(120.).view({2, 3, 4, 5});
  auto i = K::tensor({0, 2});
  auto j = K::tensor({0, 1});
  return Items{out(x.index({Slice(), i, Slice(), j})), out(x.index({j, Slice(), i})),
               out(x.index({0, i, None, j})), out(x.index({j, Slice(), Slice(), K::tensor(4)}))};
})

BOTH(AdvancedIndex, MasksAndBools, {
  using namespace K::indexing;
  auto x = K::arange(24.).view({2, 3, 4});
  auto m = K::tensor({true, false, true});
  auto m2 = x.select(2, 0) > 5;
  return Items{out(x.index({Slice(), m})),
               out(x.index({m2})),
               out(x.index({x > 10})),
               out(x.index({true})),
               out(x.index({false})),
               out(x.index({0, true, m})),
               out(x.index({K::tensor(true)})),
               out(x.index({K::tensor(false)})),
               out(x.index({Slice(), m, K::tensor({1, 2})}))};
})

BOTH(AdvancedIndex, OfAViewAndOfAPendingValue, {
  using namespace K::indexing;
  auto x = K::arange(30.).view({5, 6});
  auto t = x.t();
  auto y = (x * 2 + 1).exp().log();
  auto i = K::tensor({4, 1, 1});
  return Items{out(t.index({i})), out(t.index({Slice(None, None, 2), i})), out(y.index({i, i})),
               out(x.index({Slice(None, None, -1 + 3), i}))};
})

BOTH(AdvancedIndex, Errors, {
  using namespace K::indexing;
  auto x = K::arange(12.).view({3, 4});
  ErrorLog errors;
  errors.attempt([&] { x.index({K::tensor({0, 3})}); });
  errors.attempt([&] { x.index({K::tensor({-4})}); });
  errors.attempt([&] { x.index({Slice(), K::tensor({5})}); });
  errors.attempt([&] { x.index({K::tensor({0.5})}); });
  errors.attempt([&] { x.index({K::tensor({0, 1}, K::kInt)}); });
  errors.attempt([&] { x.index({K::tensor({true, false})}); });
  errors.attempt([&] { x.index({Slice(), K::tensor({true, false, true})}); });
  errors.attempt([&] { x.index({K::tensor({0, 1}), K::tensor({0, 1, 2})}); });
  errors.attempt([&] { x.clone().index_put_({K::tensor({0, 1})}, K::ones({3, 4})); });
  errors.attempt([&] { x.clone().index_put_({K::tensor({0, 1})}, K::ones({2, 4}, K::kDouble)); });
  errors.attempt([&] { x.clone().index_put_({K::tensor({7})}, 1); });
  return errors.items();
})

// ---------------------------------------------------------------- index_put_

BOTH(IndexPut, StoresAndAccumulates, {
  using namespace K::indexing;
  auto x = K::zeros({3, 4});
  auto i = K::tensor({0, 2, 0});
  auto a = x.clone();
  a.index_put_({K::tensor({0, 2})}, K::ones({2, 4}) * 3);
  auto b = x.clone();
  b.index_put_({i, K::tensor({1, 1, 1})}, K::tensor({1., 2., 4.}), true);
  auto c = x.clone();
  c.index_put_({Slice(), K::tensor({3, 0})}, K::tensor({5., 6.}));
  auto d = x.clone();
  d.index_put_({K::tensor({true, false, true})}, 7);
  auto e = x.clone();
  e.index_put_({K::tensor({true, false, true})}, K::tensor({1., 2., 3., 4.}));
  auto f = x.clone();
  f.index_put_({x.select(1, 0) == 0, K::tensor({2})}, K::tensor({9.}));
  auto g = x.index_put({i}, K::ones({3, 4}), true);
  auto h = x.clone();
  h.index_put_({K::tensor({1}), Slice(1, 3)}, K::tensor({8., 9.}));
  auto k = x.clone();
  k.index_put_({x > -1}, K::arange(12.));
  return Items{out(a), out(b), out(c), out(d), out(e), out(f), out(g), out(h), out(k)};
})

BOTH(IndexPut, IntoAViewWritesTheBase, {
  using namespace K::indexing;
  auto base = K::zeros({4, 5});
  auto v = base.t();
  v.index_put_({K::tensor({4, 0})}, K::ones({2, 4}));
  auto w = base.select(0, 2);
  w.index_put_({K::tensor({1, 3})}, K::tensor({5., 6.}));
  auto q = base.index({Slice(None, None, 2)});
  q.index_put_({K::tensor({1}), K::tensor({2})}, K::tensor({7.}), true);
  return Items{out(base), out(v), out(w)};
})

// ---------------------------------------------------------------- gather / scatter

BOTH(Gather, AlongEachDimension, {
  auto x = K::arange(12.).view({3, 4});
  auto i0 = K::tensor({2, 0, 1, 1, 0, 0}).view({2, 3});
  auto i1 = K::tensor({3, 0, 1, 1, 2, 3}).view({3, 2});
  return Items{out(x.gather(0, i0)), out(x.gather(1, i1)), out(K::gather(x.t(), 1, i0)),
               out(x.gather(-1, K::zeros({3, 0}, K::kLong)))};
})

BOTH(Gather, Errors, {
  auto x = K::arange(12.).view({3, 4});
  ErrorLog errors;
  errors.attempt([&] { x.gather(0, K::tensor({0, 1}, K::kInt).view({1, 2})); });
  errors.attempt([&] { x.gather(0, K::tensor({0, 3}).view({1, 2})); });
  errors.attempt([&] { x.gather(0, K::tensor({-1, 0}).view({1, 2})); });
  errors.attempt([&] { x.gather(0, K::tensor({0, 1})); });
  errors.attempt([&] { x.gather(1, K::zeros({4, 1}, K::kLong)); });
  errors.attempt([&] { x.gather(2, K::zeros({1, 1}, K::kLong)); });
  errors.attempt([&] {
    x.scatter(0, K::tensor({0, 1}).view({1, 2}), K::ones({1, 2}, K::kDouble));
  });
  errors.attempt([&] { x.scatter(0, K::tensor({0, 1}).view({1, 2}), K::ones({1, 1})); });
  errors.attempt([&] { x.scatter(0, K::tensor({0, 1}), 2); });
  errors.attempt([&] { x.scatter(0, K::tensor({0, 5}).view({1, 2}), 2); });
  errors.attempt([&] {
    x.scatter_add(0, K::tensor({0, 1}, K::kInt).view({1, 2}), K::ones({1, 2}));
  });
  errors.attempt([&] { x.index_select(0, K::tensor({0.5})); });
  errors.attempt([&] { x.index_select(0, K::tensor({3})); });
  errors.attempt([&] { x.index_select(0, K::tensor({-1})); });
  errors.attempt([&] { x.index_select(0, K::zeros({1, 1}, K::kLong)); });
  errors.attempt([&] { x.masked_fill(K::tensor({true, false, true}), 1); });
  errors.attempt([&] { x.masked_fill(K::tensor({true, false, true}).view({3, 1}), K::ones({1})); });
  errors.attempt([&] { x.masked_select(K::tensor({1, 0, 1}).view({3, 1})); });
  errors.attempt([&] { K::embedding(x, K::tensor({0.5})); });
  errors.attempt([&] { K::embedding(x, K::tensor({3})); });
  return errors.items();
})

BOTH(Scatter, StoresAndAdds, {
  auto x = K::arange(12.).view({3, 4});
  auto i = K::tensor({2, 0, 1, 2, 0, 0}).view({2, 3});
  auto src = K::arange(100., 112.).view({3, 4});
  auto a = x.scatter(0, i.narrow(0, 0, 1), src);
  auto b = x.scatter(1, K::tensor({3, 1}).view({2, 1}), 9.5);
  auto c = x.scatter_add(0, i, src);
  auto d = x.clone();
  d.scatter_(0, K::tensor({1, 2, 0, 1}).view({1, 4}), src);
  auto e = x.clone();
  e.scatter_add_(1, K::tensor({0, 0, 0, 0, 1, 1, 1, 1}).view({2, 4}), K::ones({2, 4}));
  auto f = x.clone();
  f.t().scatter_(0, K::tensor({1, 3}).view({2, 1}), -1.);
  return Items{out(a),
               out(b),
               out(c),
               out(d),
               out(e),
               out(f),
               out(K::scatter_add(K::zeros({5}), 0, K::tensor({4, 4, 0, 4}), K::ones({4})))};
})

BOTH(IndexSelect, RowsColumnsAndScalars, {
  auto x = K::arange(12.).view({3, 4});
  return Items{
      out(x.index_select(0, K::tensor({2, 0, 2}))),
      out(x.index_select(1, K::tensor({3, 1}, K::kInt))), out(K::index_select(x, -1, K::tensor(2))),
      out(x.index_select(0, K::zeros({0}, K::kLong))), out(x.t().index_select(0, K::tensor({1})))};
})

BOTH(Masked, FillSelectAndNonzero, {
  auto x = K::arange(12.).view({3, 4});
  auto m = K::tensor({true, false, true}).view({3, 1});
  auto y = x.clone();
  y.masked_fill_(x > 6, -1);
  return Items{out(x.masked_fill(m, 5)),
               out(x.masked_fill(x.remainder(3) == 0, K::tensor(2.5))),
               out(y),
               out(x.masked_select(m)),
               out(K::masked_select(x, x > 8)),
               out(x.masked_select(K::tensor({true, false, false, true}))),
               out(x.nonzero()),
               out(K::nonzero(x > 7)),
               out(K::tensor(3).nonzero()),
               out(K::tensor(0).nonzero())};
})

BOTH(Embedding, RowsOfTheWeight, {
  auto w = K::arange(15.).view({5, 3});
  auto idx = K::tensor({4, 0, 4, 2}).view({2, 2});
  return Items{out(K::embedding(w, idx)), out(K::embedding(w, K::tensor({1, 1}, K::kInt))),
               out(K::embedding(w, K::tensor(3)))};
})

// ---------------------------------------------------------------- autograd

BOTH(IndexingGrad, NamesAndGradients, {
  using namespace K::indexing;
  auto w = K::arange(12.).view({3, 4}).requires_grad_();
  auto i = K::tensor({0, 2, 0});
  auto m = K::tensor({true, false, true});
  auto a = w.index({i});
  auto b = w.index({Slice(), K::tensor({3, 3})});
  auto c = w.index({m});
  auto d = w.gather(1, K::tensor({0, 0, 3}).view({3, 1}));
  auto e = w.index_select(0, i);
  auto f = w.masked_select(m.view({3, 1}));
  auto g = w.masked_fill(m.view({3, 1}), 0);
  auto h = K::embedding(w, K::tensor({2, 2, 1}), 1);
  auto s1 = w.scatter(0, K::tensor({1, 2}).view({1, 2}), K::ones({1, 2}));
  auto s2 = w.scatter(0, K::tensor({1, 2}).view({1, 2}), 1);
  auto s3 = w.scatter_add(0, K::tensor({1, 1}).view({1, 2}), K::ones({1, 2}));
  auto p1 = w.index_put({i}, K::ones({4}));
  auto p2 = w.index_put({i}, K::ones({4}), true);
  Items items;
  for (auto* t : {&a, &b, &c, &d, &e, &f, &g, &h, &s1, &s2, &s3, &p1, &p2}) {
    items.push_back(fnName(*t));
  }
  auto weights = K::arange(1., 13.).view({3, 4});
  auto loss = (a * weights).sum() + (b * 2).sum() + (c * 3).sum() + (d * 4).sum() + (e * e).sum() +
              f.sum() + (g * g).sum() + (h * 5).sum() + s1.sum() + s2.sum() + (s3 * s3).sum() +
              (p1 * weights).sum() + (p2 * weights).sum();
  loss.backward();
  items.push_back(out(w.grad()));
  return items;
})

BOTH(IndexingGrad, ValuesReceiveGradients, {
  auto w = K::zeros({3, 4});
  auto v = K::tensor({1., 2., 3., 4.}).requires_grad_();
  auto src = K::ones({2, 3}).requires_grad_();
  auto fill = K::tensor(2.).requires_grad_();
  auto i = K::tensor({0, 2, 0});
  auto a = w.index_put({i}, v * 2);
  auto b = w.index_put({i}, v, true);
  auto c = w.scatter(1, K::tensor({3, 0, 1, 2, 2, 1}).view({2, 3}), src);
  auto d = w.scatter_add(1, K::tensor({0, 0, 1, 2, 2, 1}).view({2, 3}), src * src);
  auto e = w.masked_fill(w.select(1, 0) == 0, fill);
  auto weights = K::arange(1., 13.).view({3, 4});
  ((a + b + c + d + e) * weights).sum().backward();
  return Items{out(v.grad()), out(src.grad()), out(fill.grad())};
})

BOTH(Embedding, Module, {
  auto table = K::arange(12.).view({4, 3});
  K::nn::Embedding plain(K::nn::EmbeddingOptions(4, 3)._weight(table.clone()));
  K::nn::Embedding padded(K::nn::EmbeddingOptions(4, 3).padding_idx(-1));
  auto ids = K::tensor({{3, 1}, {0, 3}});
  auto rows = plain->forward(ids);
  (rows * rows).sum().backward();
  auto padded_rows = padded->forward(ids);
  padded_rows.sum().backward();
  std::ostringstream printed;
  printed << *padded;
  std::string shown = printed.str();
  shown = shown.substr(shown.find("::nn::"));
  auto f = K::nn::functional::embedding(ids, table,
                                        K::nn::functional::EmbeddingFuncOptions().padding_idx(0));
  return Items{out(rows),
               out(plain->weight.grad()),
               out(padded->weight.select(0, 3)),
               out(padded->weight.grad()),
               text(shown),
               out(f)};
})

// Cases of libtorch's own tensor indexing tests (test/cpp/api/tensor_indexing.cpp), written with
// index() and index_put_().
BOTH(AdvancedIndex, LibtorchsOwnCases, {
  using namespace K::indexing;
  auto x = K::arange(0, 12).view({4, 3});
  auto rows = K::tensor({{0, 0}, {3, 3}});
  auto columns = K::tensor({{0, 2}, {0, 2}});
  auto r = K::tensor({0, 3});
  auto v = K::arange(105.).view({5, 7, 3});
  auto mask1 = K::tensor({true, false, true, true, false});
  auto mask2 = K::tensor({true, true, true});
  auto y = K::ones({10, 10});
  auto none = K::zeros({10}, K::kBool);
  y.index_put_({none}, y.index({none}), /*accumulate=*/true);
  auto z = x.clone();
  z.index_put_({K::zeros({4, 3}, K::kBool)}, -1);
  z.index_put_({K::zeros({0}, K::kLong)}, -1);
  auto empty = K::empty({10, 0});
  return Items{out(x.index({rows, columns})),
               out(x.index({r.index({Slice(), None}), K::tensor({0, 2})})),
               out(v.index({mask1, Slice(), mask2})),
               out(v.index({Slice(), K::tensor({{0, 1}, {4, 3}})})),
               out(y),
               out(z),
               out(x.index({K::zeros({0}, K::kLong)})),
               out(K::arange(5.).index({K::zeros({0, 2}, K::kLong)})),
               out(K::zeros({2, 3, 4, 5}).index({Slice(), K::zeros({0, 6}, K::kLong)})),
               out(empty.index({K::tensor({1, 2})})),
               out(empty.index({K::zeros({0}, K::kLong), K::zeros({0}, K::kLong)}))};
})

BOTH(AdvancedIndex, IntoAnEmptyDimension, {
  using namespace K::indexing;
  auto empty = K::empty({10, 0});
  return Items{out(empty.index({Slice(), K::tensor({0, 1})}))};
})

BOTH(AdvancedIndex, DeprecatedUint8Masks, {
  using namespace K::indexing;
  auto x = K::arange(6.).view({2, 3});
  auto m = K::tensor({1, 0, 1}, K::kUInt8);
  auto y = x.clone();
  y.index_put_({Slice(), m}, 7);
  return Items{out(x.index({Slice(), m})), out(x.masked_select(m)), out(y)};
})
