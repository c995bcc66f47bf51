// Running the `trusty` binary from tests: exit code and everything it printed.
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace trusty::test {

struct CliRun {
  int code;
  std::string out;
};

// `args` is appended to the binary's path in a shell command line: tests pass fixed paths.
inline CliRun run_cli(const std::string& args) {
  const std::string cmd = std::string(TRUSTY_BINARY) + " " + args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

// A fresh, empty directory under the system's temporary directory.
inline std::string fresh_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("trusty_cli_" + name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

inline std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string p = dir + "/" + name;
  std::ofstream(p) << text;
  return p;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace trusty::test
