// The process group: one process, or the ranks of an MPI job (`mpirun -np N trusty ...`).
//
// This header does not include mpi.h: the same API is compiled against Open MPI when CMake
// finds it (TRUSTY_MPI=ON, the default) and as a serial stub otherwise (size 1, rank 0).
//
// world() is a lazy process-wide singleton. MPI is initialised on first use only when the
// process was started by an MPI launcher (environment variables OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_RANK are present): a plain `trusty ...` never calls MPI_Init, because
// Open MPI's singleton start spawns a helper daemon and costs about 0.4 s per process.
// It is then a world of size 1 exactly like the serial build. If MPI was already initialised
// by someone else (mpi4py), world() uses it and leaves finalisation to them; otherwise
// MPI_Finalize runs at normal program exit.
//
// Threading: MPI is initialised with MPI_THREAD_FUNNELED — call World's collective methods
// from the main thread only. Every method below except rank/size/is_root/is_mpi/abort is
// collective: all ranks must call it, in the same order, with consistent arguments.
// Argument errors that only some ranks could see (a wrong local row count) are exchanged
// first, so every rank throws the same std::invalid_argument instead of deadlocking.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "trusty/dist/index_range.hpp"

namespace trusty::dist {

class World {
 public:
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  // True when this process runs inside an initialised MPI job (even of size 1).
  bool is_mpi() const { return mpi_; }

  void barrier() const;

  // Copies `root`'s data into `data` on every other rank; every rank passes a span of the
  // same length (checked: a mismatch throws on all ranks).
  void broadcast(std::span<double> data, int root = 0) const;
  void broadcast(std::span<int64_t> data, int root = 0) const;
  void broadcast(std::span<std::byte> data, int root = 0) const;

  // Assembles rows of `row_len` doubles, distributed over ranks by global row index, into
  // one row-major array of n_total rows in global index order, on every rank (an
  // allgatherv). Rank r holds rows [mine.begin, mine.end) in `local_rows`
  // (mine.size() * row_len values); the ranks' ranges, in rank order, must tile [0, n_total)
  // (split(n_total, rank, size) does). Any code that then reduces the gathered rows in
  // index order gives bit-identical results for every rank count. Throws
  // std::invalid_argument (on all ranks) when the ranges do not tile or sizes disagree.
  std::vector<double> gather_by_index(std::span<const double> local_rows, int64_t row_len,
                                      IndexRange mine, int64_t n_total) const;

  // Ends the whole job with `code` (MPI_Abort under MPI, std::exit otherwise). For errors
  // seen by one rank only, where the others would wait in a collective forever.
  [[noreturn]] void abort(int code) const;

  // End main with `return dist::world().finish(code);`. A zero code is returned. A non-zero
  // code on a job of more than one rank aborts the whole job with it (MPI_Abort): a rank that
  // simply returned would leave the others waiting in their next collective forever (its
  // MPI_Finalize at exit does not release them). On one process the code is returned.
  [[nodiscard]] int finish(int code) const;

  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World();  // MPI_Finalize, if this World initialised MPI

 private:
  friend World& world();
  World();
  int rank_ = 0;
  int size_ = 1;
  bool mpi_ = false;
  [[maybe_unused]] bool owns_mpi_ = false;  // read by the MPI build only
};

// The process-wide world (initialised on first call; thread-safe initialisation).
World& world();

// True when trusty was compiled against MPI (TRUSTY_MPI=ON and MPI found).
bool compiled_with_mpi();

}  // namespace trusty::dist
