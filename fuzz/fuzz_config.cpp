// The TOML config loader and everything `trusty train` reads from it (parse_run: every key,
// type, range and choice check, and the unknown-key check).
#include "../apps/trusty/setup.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".toml");
  return trusty::fuzz::expect_clean([&] {
    auto root = trusty::io::Config::load(path);
    (void)trusty::apps::parse_run(root);
  });
}
