#include "trusty/io/spawn.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace trusty::io {

SpawnResult spawn_and_wait(const std::vector<std::string>& argv, const std::string& cwd, const std::string& log_path) {
  if (argv.empty()) throw std::invalid_argument("spawn_and_wait: empty argument vector");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  struct Cleanup {
    posix_spawn_file_actions_t* fa;
    ~Cleanup() { posix_spawn_file_actions_destroy(fa); }
  } cleanup{&fa};
  // The log is opened by the child after the chdir, so log_path is made absolute by the
  // caller or relative to cwd; stdin is /dev/null so nothing waits for a terminal.
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("waiting for " + argv[0] + ": " + std::strerror(errno));
  SpawnResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  const std::string log = log_path.empty() || log_path[0] == '/' || cwd.empty() ? log_path : cwd + "/" + log_path;
  std::ifstream in(log, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  r.log = os.str();
  return r;
}

}  // namespace trusty::io
