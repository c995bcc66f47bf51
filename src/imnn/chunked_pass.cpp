#include "chunked_pass.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "trusty/dist/reduce.hpp"
#include "trusty/dist/world.hpp"
#include "trusty/imnn/tangent_forward.hpp"

namespace trusty::imnn {

namespace {
using core::Var;

std::vector<int64_t> owners(int64_t nd, int64_t p) {  // tangent row (i, α) belongs to simulation i
  std::vector<int64_t> o(static_cast<size_t>(nd * p));
  for (int64_t r = 0; r < nd * p; ++r) o[static_cast<size_t>(r)] = r / p;
  return o;
}

// Rows [a, b) of a row-major array of rows of `len` values, as a tensor [b − a, len].
Tensor<double> rows(const double* v, int64_t a, int64_t b, int64_t len) {
  Tensor<double> t(Shape{b - a, len});
  std::copy(v + a * len, v + b * len, t.data());
  return t;
}

Tensor<double> tensor(const std::vector<double>& v, const Shape& s) {
  Tensor<double> t(s);
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

// The local simulations as flat rows, read by every chunk of a pass.
struct Inputs {
  Tensor<double> fiducial, derivatives;  // [n, D]; mode 1 [n_d·2p, D], modes 2, 3 tangents [n_d·p, D]
  int64_t offset = 0, n_d = 0, p = 0, data = 0;
  bool seed_matched = true;

  explicit Inputs(const LocalSims& s)
      : offset(s.offset), n_d(s.n_d), p(s.set->n_params()), data(s.set->data_size()), seed_matched(s.set->seed_matched()) {
    const SimulationSet& set = *s.set;
    fiducial = set.fiducial.contiguous().reshape(Shape{set.n_s(), data});
    derivatives = seed_matched ? set.derivatives.contiguous().reshape(Shape{set.n_d() * 2 * p, data}) : set.tangents();
  }
  int64_t d_rows() const { return seed_matched ? 2 * p : p; }  // derivative rows per simulation
};

// One chunk's summaries on the current tape: x [b − a, m] and, for its simulations below
// n_d, the derivative rows d [n·2p, m] (mode 1) or ∂x/∂θ rows [n·p, m] (modes 2 and 3).
struct ChunkVars {
  Var<double> x, d;
  int64_t nd = 0;
};

ChunkVars chunk_forward(nn::Module<double>& net, const Inputs& in, int64_t a, int64_t b) {
  const int64_t la = a - in.offset, n = b - a, nd = std::max<int64_t>(0, std::min(b, in.n_d) - a), dr = in.d_rows();
  const Tensor<double> fid = rows(in.fiducial.data(), la, la + n, in.data);
  if (nd > 0 && !in.seed_matched) {
    auto o = forward_with_tangents(net, parameters_leaf(net), core::constant(fid),
                                   core::constant(rows(in.derivatives.data(), la * dr, (la + nd) * dr, in.data)), owners(nd, in.p));
    return {o.x, o.dx, nd};
  }
  Tensor<double> batch(Shape{n + nd * dr, in.data});
  std::copy(fid.data(), fid.data() + fid.numel(), batch.data());
  std::copy(in.derivatives.data() + la * dr * in.data, in.derivatives.data() + (la + nd) * dr * in.data, batch.data() + fid.numel());
  auto x = net.forward(core::constant(batch));
  if (x.rank() != 2 || x.dim(0) != batch.dim(0))
    throw std::invalid_argument("IMNN: the network must map [batch, data] to [batch, n_summaries], got " + x.shape().str());
  if (nd == 0) return {x, Var<double>(), 0};
  return {core::slice(x, 0, 0, n), core::slice(x, 0, n, n + nd * dr), nd};
}

dist::IndexRange below(dist::IndexRange r, int64_t n) { return {std::min(r.begin, n), std::min(r.end, n)}; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Pass 1: this rank's summaries, gathered in index order on every rank.
struct Summaries {
  std::vector<double> x, d;  // [n_s, m], [n_d, d_rows, m]
  int64_t m = 0;
};

Summaries gathered_summaries(nn::Module<double>& net, const LocalSims& s, const Inputs& in, int64_t chunk) {
  std::vector<double> x, d;
  int64_t m = -1;
  for (int64_t a = s.mine.begin; a < s.mine.end; a += chunk) {
    core::GradScope<double> scope;
    auto c = chunk_forward(net, in, a, std::min(s.mine.end, a + chunk));
    m = c.x.dim(1);
    x.insert(x.end(), c.x.data(), c.x.data() + c.x.numel());
    if (c.nd > 0) d.insert(d.end(), c.d.data(), c.d.data() + c.d.numel());
  }
  if (m < 0) {  // no chunk here (more ranks than chunks): the summary count from a zero row
    core::GradScope<double> scope;
    m = net.forward(core::constant(Tensor<double>(Shape{1, in.data}))).dim(1);
  }
  return {dist::gather_by_index(x, m, s.mine, s.n_s), dist::gather_by_index(d, in.d_rows() * m, below(s.mine, s.n_d), s.n_d), m};
}

// Pass 2: d loss/d weights, one vector per chunk from the loss's gradient with respect to
// that chunk's summaries (gx, gd), gathered and added in chunk order.
void chunked_gradient(nn::Module<double>& net, const LocalSims& s, const Inputs& in, int64_t chunk, int64_t m,
                      const std::vector<double>& gx, const std::vector<double>& gd) {
  const int64_t nw = static_cast<int64_t>(net.parameters().size()), dr = in.d_rows() * m;
  const dist::IndexRange mine{ceil_div(s.mine.begin, chunk), ceil_div(s.mine.end, chunk)};
  std::vector<double> g;
  g.reserve(static_cast<size_t>(mine.size() * nw));
  for (int64_t c = mine.begin; c < mine.end; ++c) {
    const int64_t a = c * chunk, b = std::min(s.n_s, a + chunk);
    net.zero_grad();
    core::GradScope<double> scope;
    auto v = chunk_forward(net, in, a, b);
    auto target = core::sum(core::mul(v.x, core::constant(rows(gx.data(), a, b, m))));
    if (v.nd > 0) target = core::add(target, core::sum(core::mul(v.d, core::constant(rows(gd.data(), a, a + v.nd, dr).reshape(v.d.shape())))));
    scope.backward(target);
    auto gr = net.gradients();
    g.insert(g.end(), gr.begin(), gr.end());
  }
  const auto all = dist::gather_by_index(g, nw, mine, ceil_div(s.n_s, chunk));
  const auto sum = dist::column_sums(all, nw);
  std::copy(sum.begin(), sum.end(), net.gradients().begin());
}
}  // namespace

LocalSims whole_set(const SimulationSet& s, int64_t chunk) {
  const auto& w = dist::world();
  return {&s, 0, s.n_s(), s.n_d(), dist::split_chunks(s.n_s(), chunk, w.rank(), w.size())};
}

FisherSummary chunked_statistics(nn::Module<double>& net, const LocalSims& s, int64_t chunk, const LossOptions& loss, bool grad) {
  const Inputs in(s);
  const Summaries sum = gathered_summaries(net, s, in, chunk);
  const int64_t m = sum.m, p = in.p;
  std::vector<double> gx, gd;
  FisherSummary out;
  {
    core::GradScope<double> scope;
    auto leaf = [&](const Tensor<double>& t) { return grad ? core::variable(t) : core::constant(t); };
    auto x = leaf(tensor(sum.x, Shape{s.n_s, m}));
    auto d = leaf(tensor(sum.d, in.seed_matched ? Shape{s.n_d, 2, p, m} : Shape{s.n_d, p, m}));
    auto dmu = in.seed_matched ? seed_matched_mean_derivative(d, s.set->delta_theta)
                               : mean_derivative(core::permute(d, std::vector<int>{0, 2, 1}));
    auto v = fisher_statistics(x, dmu, loss);
    if (!std::isfinite(v.loss.item())) throw std::runtime_error("IMNN: the loss is not finite (" + std::to_string(v.loss.item()) + ")");
    out = summarise(v);
    if (grad) {
      scope.backward(v.loss);
      gx.assign(x.grad().begin(), x.grad().end());
      gd.assign(d.grad().begin(), d.grad().end());
    }
  }
  if (grad) chunked_gradient(net, s, in, chunk, m, gx, gd);
  return out;
}

}  // namespace trusty::imnn
