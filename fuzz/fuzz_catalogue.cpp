// Halo catalogues (.npz with field, positions, masses, box_size, mass_threshold):
// density::load_catalogue and its validation (shapes, finiteness, halos inside the box and
// above the threshold).
#include "fuzz_util.hpp"
#include "trusty/density/catalogue.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".npz");
  return trusty::fuzz::expect_clean([&] { (void)trusty::density::load_catalogue(path); });
}
