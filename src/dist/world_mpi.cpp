// World on Open MPI (compiled when CMake found MPI; see world_serial.cpp otherwise).
#if TRUSTY_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "checks.hpp"
#include "trusty/dist/world.hpp"

namespace trusty::dist {

namespace {

// Set by mpirun/mpiexec (Open MPI), by PMIx launchers (srun --mpi=pmix, prterun) and by
// PMI-1/2 launchers (MPICH hydra, srun --mpi=pmi2).
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

template <class T>
void broadcast_chunks(T* data, size_t n, MPI_Datatype type, int root) {
  constexpr size_t kChunk = size_t{1} << 30;  // MPI counts are int
  for (size_t at = 0; at < n; at += kChunk)
    MPI_Bcast(data + at, static_cast<int>(std::min(kChunk, n - at)), type, root, MPI_COMM_WORLD);
}

// Every rank learns whether any rank's span length differs from the root's, then all throw.
void check_broadcast(size_t n, int root, const char* what) {
  int64_t root_n = static_cast<int64_t>(n);
  MPI_Bcast(&root_n, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
  int mismatch = root_n != static_cast<int64_t>(n) ? 1 : 0, any = 0;
  MPI_Allreduce(&mismatch, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any)
    throw std::invalid_argument(std::string("dist::broadcast(") + what + "): span lengths differ between ranks (root has " +
                                std::to_string(root_n) + ", this rank " + std::to_string(n) + ")");
}

}  // namespace

World::World() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) throw std::runtime_error("dist::world: MPI was finalised before trusty's first use of it");
  if (!initialized && !launched_by_mpi()) return;  // a plain process: size 1, no MPI_Init
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    owns_mpi_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  mpi_ = true;
}

World::~World() {
  if (!owns_mpi_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void World::barrier() const {
  if (mpi_) MPI_Barrier(MPI_COMM_WORLD);
}

void World::broadcast(std::span<double> data, int root) const {
  detail::check_root(root, size_, "double");
  if (!mpi_) return;
  check_broadcast(data.size(), root, "double");
  broadcast_chunks(data.data(), data.size(), MPI_DOUBLE, root);
}

void World::broadcast(std::span<int64_t> data, int root) const {
  detail::check_root(root, size_, "int64");
  if (!mpi_) return;
  check_broadcast(data.size(), root, "int64");
  broadcast_chunks(data.data(), data.size(), MPI_INT64_T, root);
}

void World::broadcast(std::span<std::byte> data, int root) const {
  detail::check_root(root, size_, "bytes");
  if (!mpi_) return;
  check_broadcast(data.size(), root, "bytes");
  broadcast_chunks(data.data(), data.size(), MPI_BYTE, root);
}

std::vector<double> World::gather_by_index(std::span<const double> local_rows, int64_t row_len, IndexRange mine,
                                           int64_t n_total) const {
  const detail::RankCall call{mine.begin, mine.end, row_len, n_total, static_cast<int64_t>(local_rows.size())};
  std::vector<detail::RankCall> calls(static_cast<size_t>(size_));
  if (mpi_)
    MPI_Allgather(&call, 5, MPI_INT64_T, calls.data(), 5, MPI_INT64_T, MPI_COMM_WORLD);
  else
    calls[0] = call;
  if (std::string e = detail::gather_error(calls); !e.empty()) throw std::invalid_argument(e);
  std::vector<double> all(static_cast<size_t>(n_total * row_len));
  if (!mpi_ || all.empty()) {
    std::copy(local_rows.begin(), local_rows.end(), all.begin());
    return all;
  }
  std::vector<int> counts(calls.size()), displs(calls.size());
  for (size_t r = 0; r < calls.size(); ++r) {
    counts[r] = static_cast<int>(calls[r].end - calls[r].begin);  // in rows; n_total <= INT_MAX was checked
    displs[r] = static_cast<int>(calls[r].begin);
  }
  MPI_Datatype row_type;
  MPI_Type_contiguous(static_cast<int>(row_len), MPI_DOUBLE, &row_type);
  MPI_Type_commit(&row_type);
  MPI_Allgatherv(local_rows.data(), counts[static_cast<size_t>(rank_)], row_type, all.data(), counts.data(),
                 displs.data(), row_type, MPI_COMM_WORLD);
  MPI_Type_free(&row_type);
  return all;
}

void World::abort(int code) const {
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

int World::finish(int code) const {
  if (code != 0 && mpi_ && size_ > 1) abort(code);
  return code;
}

World& world() {
  static World w;
  return w;
}

bool compiled_with_mpi() { return true; }

}  // namespace trusty::dist
#endif  // TRUSTY_HAVE_MPI
