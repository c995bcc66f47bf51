// Run by ctest under mpirun (dist_mpi_np1/2/3): `mpi_check <expected size>`.
// `mpi_check <size> fail-on-last-rank`: the last rank ends with exit code 3 through
// World::finish while the others wait in a barrier; the job must end (dist_mpi_finish_np2
// expects a non-zero exit within its timeout, not a hang).
//
// Each case distributes n pseudo-random rows over the ranks by index (row i drawn from
// core::Rng(seed, i), as a simulation would be), gathers them with dist::gather_by_index and
// computes column sums, the mean and the covariance matrix. Every rank also generates all n
// rows itself and runs the same statistics serially — the one-process answer. The two must
// agree bit for bit, for even and uneven splits, more ranks than rows, ranks with no rows and
// lopsided tilings. Argument errors must make every rank throw (no rank left hanging).
// The same for summaries: a small network's outputs for 1,000 inputs, computed in fixed
// chunks of 64 inputs spread over the ranks (split_chunks), then the mean and covariance —
// as one IMNN step does with its simulations.
// Exit 0 when every check passed on this rank; mpirun fails the test if any rank exits 1.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/core/tape.hpp"
#include "trusty/dist/reduce.hpp"
#include "trusty/dist/world.hpp"
#include "trusty/nn/layers.hpp"

using namespace trusty;

namespace {

constexpr int64_t kCols = 4;
constexpr uint64_t kSeed = 20261201;
int failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "rank %d: FAILED %s\n", dist::world().rank(), what.c_str());
}

// Row i depends on (seed, i) only; columns of very different magnitude, so that summing in
// another order visibly changes the last bits.
void fill_row(int64_t i, double* row) {
  core::Rng rng(kSeed, static_cast<uint64_t>(i));
  const double z = rng.normal();
  row[0] = z;
  row[1] = 0.5 * z + rng.normal();
  row[2] = 1e6 * rng.uniform();
  row[3] = std::exp(rng.normal()) * 1e-3;
}

std::vector<double> make_rows(dist::IndexRange r) {
  std::vector<double> rows(static_cast<size_t>(r.size() * kCols));
  for (int64_t i = r.begin; i < r.end; ++i) fill_row(i, &rows[static_cast<size_t>((i - r.begin) * kCols)]);
  return rows;
}

// Column sums, mean and unbiased covariance (two-pass), every loop in row index order.
std::vector<double> statistics(const std::vector<double>& rows) {
  const int64_t n = static_cast<int64_t>(rows.size()) / kCols;
  std::vector<double> out = dist::column_sums(rows, kCols), mean(kCols, 0.0), cov(kCols * kCols, 0.0);
  if (n == 0) return out;
  for (int64_t j = 0; j < kCols; ++j) mean[j] = out[j] / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < kCols; ++a)
      for (int64_t b = 0; b < kCols; ++b)
        cov[a * kCols + b] += (rows[i * kCols + a] - mean[a]) * (rows[i * kCols + b] - mean[b]);
  if (n > 1)
    for (double& c : cov) c /= static_cast<double>(n - 1);
  out.insert(out.end(), mean.begin(), mean.end());
  out.insert(out.end(), cov.begin(), cov.end());
  return out;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Rank r's block when [0, n) is cut at n * r^2 / size^2: uneven, the first blocks small.
dist::IndexRange lopsided(int64_t n, int rank, int size) {
  const auto cut = [&](int r) { return n * r * r / (int64_t{size} * size); };
  return {cut(rank), cut(rank + 1)};
}

void check_case(int64_t n, dist::IndexRange mine, const std::string& name) {
  const std::vector<double> local = make_rows(mine);
  const std::vector<double> gathered = dist::gather_by_index(local, kCols, mine, n);
  const std::vector<double> all = make_rows({0, n});
  const std::string what = name + " n=" + std::to_string(n);
  check(same_bits(gathered, all), what + ": gathered rows differ from the serial rows");
  check(same_bits(statistics(gathered), statistics(all)), what + ": statistics differ from one process");
  check(same_bits(dist::sum_in_index_order(local, kCols, mine, n), dist::column_sums(all, kCols)),
        what + ": sum_in_index_order differs from column_sums");
}

void check_reductions() {
  const dist::World& w = dist::world();
  for (int64_t n : {1000, 1001, 7, 2, 1, 0}) {
    check_case(n, dist::split(n, w.rank(), w.size()), "split");
    check_case(n, lopsided(n, w.rank(), w.size()), "lopsided");
    const bool last = w.rank() == w.size() - 1;
    check_case(n, {0, last ? n : 0}, "all-on-last-rank");  // all ranks but the last: [0, 0)
  }
}

// Network outputs [e - b, m] for inputs b .. e-1 (input i drawn from Rng(seed + 1, i)), as one batch.
std::vector<double> network_rows(nn::Module<double>& net, int64_t b, int64_t e, int64_t d) {
  core::Tensor<double> in(core::Shape{e - b, d});
  for (int64_t i = b; i < e; ++i) {
    core::Rng rng(kSeed + 1, static_cast<uint64_t>(i));
    for (int64_t j = 0; j < d; ++j) in.data()[(i - b) * d + j] = rng.normal();
  }
  core::GradScope<double> scope;
  const auto x = net.forward(core::constant_ref(in));
  return {x.data(), x.data() + x.numel()};
}

// Network outputs for `share`, batch by batch in chunks of `chunk` starting at share.begin.
std::vector<double> network_share(nn::Module<double>& net, dist::IndexRange share, int64_t chunk, int64_t d) {
  std::vector<double> rows;
  for (int64_t b = share.begin; b < share.end; b += chunk) {
    const std::vector<double> part = network_rows(net, b, std::min(share.end, b + chunk), d);
    rows.insert(rows.end(), part.begin(), part.end());
  }
  return rows;
}

void check_network_summaries() {
  const dist::World& w = dist::world();
  constexpr int64_t n = 1000, d = 8, m = kCols, chunk = 64;
  auto net = nn::make_mlp<double>({d, 32, 32, m}, {.activation = "tanh"});
  net->finalize(7);
  w.broadcast(net->parameters(), 0);  // the root's weights everywhere (here equal anyway)
  const dist::IndexRange mine = dist::split_chunks(n, chunk, w.rank(), w.size());
  const std::vector<double> gathered = dist::gather_by_index(network_share(*net, mine, chunk, d), m, mine, n);
  const std::vector<double> one_process = network_share(*net, {0, n}, chunk, d);
  check(same_bits(gathered, one_process), "network summaries in chunks differ from one process");
  check(same_bits(statistics(gathered), statistics(one_process)), "mean and covariance of summaries differ from one process");
  // For information: one batch per rank (split, no fixed chunks) against one batch of all n.
  const dist::IndexRange block = dist::split(n, w.rank(), w.size());
  const std::vector<double> per_rank = dist::gather_by_index(network_share(*net, block, n, d), m, block, n);
  const std::vector<double> whole = network_rows(*net, 0, n, d);
  int64_t differ = 0;
  for (size_t k = 0; k < whole.size(); ++k) differ += std::memcmp(&whole[k], &per_rank[k], sizeof(double)) != 0;
  if (w.is_root())
    std::printf("mpi_check: one batch per rank: %lld of %lld network outputs differ from one batch of all\n",
                static_cast<long long>(differ), static_cast<long long>(whole.size()));
}

// The reason for gather_by_index: per-rank partial sums (what MPI_Allreduce adds) combined
// afterwards generally differ in the last bits from one sequential sum. Informational only.
void report_partial_sums() {
  const dist::World& w = dist::world();
  const std::vector<double> all = make_rows({0, 1000});
  std::vector<double> blockwise(kCols, 0.0);
  for (int r = 0; r < w.size(); ++r) {
    const dist::IndexRange b = dist::split(1000, r, w.size());
    const std::vector<double> part = dist::column_sums(
        std::span(all).subspan(static_cast<size_t>(b.begin * kCols), static_cast<size_t>(b.size() * kCols)), kCols);
    for (int64_t j = 0; j < kCols; ++j) blockwise[j] += part[j];
  }
  if (w.is_root())
    std::printf("mpi_check: per-rank partial sums %s the index-order sums on %d rank(s)\n",
                same_bits(blockwise, dist::column_sums(all, kCols)) ? "happen to equal" : "differ from", w.size());
}

void check_broadcast() {
  const dist::World& w = dist::world();
  const int root = w.size() - 1;
  std::vector<double> d = {1.5 + w.rank(), -2.0 * w.rank()};
  std::vector<int64_t> k = {int64_t{100} + w.rank()};
  std::vector<std::byte> b = {std::byte(w.rank()), std::byte(7)};
  w.broadcast(d, root);
  w.broadcast(k, root);
  w.broadcast(b, root);
  check(d[0] == 1.5 + root && d[1] == -2.0 * root, "broadcast(double)");
  check(k[0] == 100 + root, "broadcast(int64)");
  check(b[0] == std::byte(root) && b[1] == std::byte(7), "broadcast(bytes)");
}

template <class F>
void check_throws_everywhere(F f, const std::string& what) {
  bool threw = false;
  try {
    f();
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  check(threw, what + ": expected std::invalid_argument on every rank");
}

void check_errors() {
  const dist::World& w = dist::world();
  const dist::IndexRange mine = dist::split(10, w.rank(), w.size());
  std::vector<double> rows = make_rows(mine);
  if (w.rank() == w.size() - 1) rows.push_back(0.0);  // one rank's local size is wrong
  check_throws_everywhere([&] { dist::gather_by_index(rows, kCols, mine, 10); }, "wrong local size on one rank");
  const dist::IndexRange overlap{0, mine.end};  // every rank starts at 0
  const std::vector<double> o = make_rows(overlap);
  if (w.size() > 1) check_throws_everywhere([&] { dist::gather_by_index(o, kCols, overlap, 10); }, "overlapping ranges");
  check_throws_everywhere([&] { dist::gather_by_index(make_rows(mine), kCols, mine, 11); }, "ranges short of n_total");
  std::vector<double> d(static_cast<size_t>(1 + (w.rank() == 0 && w.size() > 1 ? 1 : 0)));
  if (w.size() > 1) check_throws_everywhere([&] { w.broadcast(d, 0); }, "broadcast lengths differ");
}

}  // namespace

int main(int argc, char** argv) {
  const dist::World& w = dist::world();
  if (argc > 2 && std::string(argv[2]) == "fail-on-last-rank") {
    if (w.rank() == w.size() - 1) return w.finish(3);
    w.barrier();
    return w.finish(0);
  }
  const int expected = argc > 1 ? std::atoi(argv[1]) : -1;
  check(w.size() == expected, "world size " + std::to_string(w.size()) + ", expected " + std::to_string(expected) +
                                  " (is the launcher's environment detected?)");
  check(w.is_mpi() == dist::compiled_with_mpi(), "is_mpi under mpirun");
  try {
    check_reductions();
    check_broadcast();
    check_errors();
    check_network_summaries();
    report_partial_sums();
  } catch (const std::exception& e) {
    check(false, std::string("unexpected exception: ") + e.what());
    w.abort(1);
  }
  w.barrier();
  if (failures == 0 && w.is_root()) std::printf("mpi_check: %d rank(s), all results bit-identical to one process\n", w.size());
  return w.finish(failures == 0 ? 0 : 1);
}
