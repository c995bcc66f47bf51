// Stan CSV chains (CmdStan's layout and trusty's own): mcmc::read_stan_csv.
#include "fuzz_util.hpp"
#include "trusty/mcmc/stan_csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".csv");
  return trusty::fuzz::expect_clean([&] { (void)trusty::mcmc::read_stan_csv(path); });
}
