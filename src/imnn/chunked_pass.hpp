// The IMNN's network pass in fixed chunks of simulations, spread over the ranks of an MPI job
// by simulation index (docs/mpi.md). Each rank runs the network on its chunks only, the
// summaries are gathered in index order (dist::gather_by_index) and every rank computes the
// unchanged Fisher statistics from all of them; the gradient with respect to the weights is
// one vector per chunk (the loss's gradient with respect to that chunk's summaries, pulled
// back through the network), gathered and added in chunk order. The chunks are the same on
// one process and on N ranks, so every number is the same bit for bit for any N.
#pragma once
#include <cstdint>

#include "trusty/dist/index_range.hpp"
#include "trusty/imnn/fisher.hpp"
#include "trusty/imnn/simulation_set.hpp"
#include "trusty/nn/module.hpp"

namespace trusty::imnn {

// The simulations one pass sees, as this rank holds them: `set` holds the global indices
// [offset, offset + set.n_s()) (fiducial) and [offset, offset + set.n_d()) (derivatives);
// n_s and n_d are the global counts; `mine` is this rank's share (chunk-aligned).
struct LocalSims {
  const SimulationSet* set = nullptr;
  int64_t offset = 0;
  int64_t n_s = 0, n_d = 0;
  dist::IndexRange mine;
};

// A whole set held by every rank; this rank's share of it in chunks of `chunk`.
LocalSims whole_set(const SimulationSet& s, int64_t chunk);

// The statistics of all n_s simulations (the same on every rank); with `grad`, also
// d loss/d weights in net.gradients() (the same on every rank).
FisherSummary chunked_statistics(nn::Module<double>& net, const LocalSims& sims, int64_t chunk, const LossOptions& loss,
                                 bool grad);

}  // namespace trusty::imnn
