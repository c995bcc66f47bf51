// World without MPI (TRUSTY_MPI=OFF or MPI not found): one process, rank 0 of 1. The same
// argument checks as the MPI build, so code that is wrong under mpirun is wrong here too.
#if !TRUSTY_HAVE_MPI
#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "checks.hpp"
#include "trusty/dist/world.hpp"

namespace trusty::dist {

World::World() = default;
World::~World() = default;

void World::barrier() const {}

void World::broadcast(std::span<double>, int root) const { detail::check_root(root, size_, "double"); }
void World::broadcast(std::span<int64_t>, int root) const { detail::check_root(root, size_, "int64"); }
void World::broadcast(std::span<std::byte>, int root) const { detail::check_root(root, size_, "bytes"); }

std::vector<double> World::gather_by_index(std::span<const double> local_rows, int64_t row_len, IndexRange mine,
                                           int64_t n_total) const {
  const detail::RankCall call{mine.begin, mine.end, row_len, n_total, static_cast<int64_t>(local_rows.size())};
  if (std::string e = detail::gather_error(std::span(&call, 1)); !e.empty()) throw std::invalid_argument(e);
  return {local_rows.begin(), local_rows.end()};
}

void World::abort(int code) const { std::exit(code); }

int World::finish(int code) const { return code; }

World& world() {
  static World w;
  return w;
}

bool compiled_with_mpi() { return false; }

}  // namespace trusty::dist
#endif  // !TRUSTY_HAVE_MPI
