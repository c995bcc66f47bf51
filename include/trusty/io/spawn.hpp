// Running another program without a shell: an argument vector passed to posix_spawnp, so
// no path, name or environment value can be read as shell syntax.
#pragma once
#include <string>
#include <vector>

namespace trusty::io {

struct SpawnResult {
  int exit_code = -1;  // the program's exit status; -1 when killed by a signal
  int signal = 0;      // the signal that killed it, else 0
  std::string log;     // what it wrote to stdout and stderr
};

// Runs argv[0] (looked up on PATH) with `argv` in the directory `cwd`, stdout and stderr
// going to the file `log_path` (read back into the result), and waits for it. Throws
// std::runtime_error when the program cannot be started at all (naming it and why).
SpawnResult spawn_and_wait(const std::vector<std::string>& argv, const std::string& cwd, const std::string& log_path);

}  // namespace trusty::io
