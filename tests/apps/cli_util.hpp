// Running the `trusty` binary from tests without a shell: fork + execv with an argument
// vector, stdout and stderr captured together. Paths with quotes or spaces stay one argument.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include "test_paths.hpp"

namespace trusty::test {

struct CliRun {
  int code;         // exit status; 128 + signal number when killed by a signal
  std::string out;  // stdout and stderr
};

inline CliRun run_trusty(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  int fd[2];
  if (::pipe(fd) != 0) return {-1, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd[1], 1);
    ::dup2(fd[1], 2);
    ::close(fd[0]);
    ::close(fd[1]);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(TRUSTY_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(TRUSTY_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(fd[1]);
  std::string out;
  std::array<char, 4096> buf{};
  for (ssize_t n; (n = ::read(fd[0], buf.data(), buf.size())) > 0;) out.append(buf.data(), static_cast<size_t>(n));
  ::close(fd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

inline std::string fresh_dir(const std::string& name) {
  // The process id keeps runs of the suite side by side (two build trees) apart.
  auto d = std::filesystem::temp_directory_path() / ("trusty_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

inline std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

}  // namespace trusty::test

namespace trusty::test {

// `args` split at spaces (for tests whose paths have none), run as run_trusty does.
inline CliRun run_cli(const std::string& args) {
  std::vector<std::string> v;
  for (size_t i = 0; i < args.size();) {
    const size_t j = std::min(args.find(' ', i), args.size());
    if (j > i) v.push_back(args.substr(i, j - i));
    i = j + 1;
  }
  return run_trusty(v);
}

inline std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  return write_text(dir, name, text);
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace trusty::test
