// A checkpoint whose entries have the wrong sizes (a damaged or foreign .npz that still
// passes its CRCs) is an error naming the entry, never a read past the end of an array.
#include <gtest/gtest.h>

#include <filesystem>

#include "trusty/io/npy.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/trainer.hpp"

using namespace trusty;
namespace fs = std::filesystem;

namespace {
std::string checkpoint_error(const std::string& key, const io::NpyArray& replacement) {
  const std::string ck = (fs::temp_directory_path() / ("trusty_ck_strict_" + std::to_string(std::hash<std::string>{}(key)) + ".npz")).string();
  auto net = nn::make_mlp<float>({2, 3, 2}, {});
  net->finalize(1);
  optim::Adam<float> opt({.lr = 0.01f});
  optim::Trainer<float> tr(*net, opt, {.epochs = 1, .progress = false});
  tr.save_checkpoint(ck);
  auto z = io::read_npz(ck);
  z[key] = replacement;
  io::write_npz(ck, z);
  try {
    tr.load_checkpoint(ck);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(CheckpointStrict, WrongSizedEntriesAreNamed) {
  const auto empty = io::NpyArray::from<int64_t>(std::vector<int64_t>{}, {0});
  EXPECT_NE(checkpoint_error("version", empty).find("checkpoint entry 'version' has 0 values, expected 1"), std::string::npos)
      << checkpoint_error("version", empty);
  EXPECT_NE(checkpoint_error("epoch", empty).find("checkpoint entry 'epoch' has 0 values, expected 1"), std::string::npos)
      << checkpoint_error("epoch", empty);
  EXPECT_NE(checkpoint_error("early_stop", empty).find("'early_stop' has 0 values, expected 2"), std::string::npos);
  EXPECT_NE(checkpoint_error("history", io::NpyArray::from<double>(std::vector<double>{1, 2, 3}, {3}))
                .find("'history' has 3 values, expected a multiple of 8"),
            std::string::npos);
  EXPECT_NE(checkpoint_error("rng/shuffle_spare", io::NpyArray::from<double>(std::vector<double>{}, {0})).find("entries, expected 1"),
            std::string::npos);
  EXPECT_NE(checkpoint_error("best/params", io::NpyArray::from<float>(std::vector<float>{1, 2}, {2})).find("the network has 17"),
            std::string::npos)
      << checkpoint_error("best/params", io::NpyArray::from<float>(std::vector<float>{1, 2}, {2}));
  EXPECT_NE(checkpoint_error("epoch", io::NpyArray::from<double>(std::vector<double>{-3}, {1})).find("expected a count >= 0"),
            std::string::npos);
}
