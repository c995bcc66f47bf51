// `trusty imnn` configs: the TOML loader and every [simulator], [imnn], [model], [optimizer]
// and [train] check (apps::check_imnn_config reads the config without running it). Configs
// that name .npy files are read too: the fuzzer rarely spells a real path, and a missing file
// is a named error.
#include "../apps/trusty/commands.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".toml");
  return trusty::fuzz::expect_clean([&] { trusty::apps::check_imnn_config(path); });
}
