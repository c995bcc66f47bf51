// `trusty sample` configs: the TOML loader, parse_sample (every [sampler] option) and, for the
// built-in targets that read no other file, build_target ([target] keys, dimensions, scales).
#include "../apps/trusty/sample_setup.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".toml");
  return trusty::fuzz::expect_clean([&] {
    auto root = trusty::io::Config::load(path);
    auto spec = trusty::apps::parse_sample(root);
    if (spec.target_kind == "bnn" || spec.target_kind == "bias") return;  // these read data files
    (void)trusty::apps::build_target(spec, false);
  });
}
