// Reading files out of a .tgz (a gzip-compressed tar archive, what `npm pack` downloads)
// in-process: no tar program, no shell, nothing written to disk.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <string>

namespace trusty::io {

// The regular files of the archive at `path` whose stored name ("package/src/x.json")
// satisfies `want`, name -> contents. Every header's checksum is verified; a member larger
// than `max_member` bytes is refused before anything is allocated for it. Throws
// std::invalid_argument naming the archive, the member and what was expected.
std::map<std::string, std::string> read_tgz(const std::string& path, const std::function<bool(const std::string&)>& want,
                                            size_t max_member = size_t{1} << 30);

}  // namespace trusty::io
