// A checkpoint whose entries have the wrong sizes (a damaged or foreign .npz that still
// passes its CRCs) is an error naming the entry, never a read past the end of an array.
#include <gtest/gtest.h>

#include <cmath>
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

// The optimiser's buffers are one value per parameter (or none before the first step); a
// checkpoint whose buffers have another size comes from another network or is damaged, and
// must be refused rather than silently restarted from zero by the next step.
TEST(CheckpointStrict, OptimiserBuffersOfTheWrongSizeAreRefused) {
  const auto two = io::NpyArray::from<double>(std::vector<double>{1, 2}, {2});
  for (const char* key : {"optim/exp_avg", "optim/exp_avg_sq"}) {
    const auto e = checkpoint_error(key, two);
    EXPECT_NE(e.find(std::string("Adam state '") + (key + 6) + "' has 2 values, expected 17 (one per parameter) or none"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find(".npz: "), std::string::npos) << "the file is named: " << e;
  }
  const auto step = checkpoint_error("optim/step", io::NpyArray::from<double>(std::vector<double>{std::nan("")}, {1}));
  EXPECT_NE(step.find("optimizer state 'step' is nan, expected a whole number >= 0"), std::string::npos) << step;
  // An empty buffer is a valid state (saved before the first step).
  EXPECT_EQ(checkpoint_error("optim/exp_avg", io::NpyArray::from<double>(std::vector<double>{}, {0})), "no error");
}

TEST(CheckpointStrict, OptimiserBufferChecksCoverEveryOptimiser) {
  const std::vector<double> three{1, 2, 3};
  optim::StateDict st{{"step", {1}}, {"lr", {0.1}}};
  optim::Sgd<double> sgd({.lr = 0.1, .momentum = 0.9});
  st["momentum_buffer"] = three;
  sgd.load_state(st);
  EXPECT_NO_THROW(sgd.check_state(3));
  EXPECT_THROW(sgd.check_state(4), std::invalid_argument);
  optim::Adagrad<double> ada({.lr = 0.1});
  st["sum"] = three;
  ada.load_state(st);
  EXPECT_THROW(ada.check_state(2), std::invalid_argument);
  optim::Rmsprop<double> rms({.lr = 0.1});
  st["square_avg"] = {1, 2};
  rms.load_state(st);
  EXPECT_THROW(rms.check_state(3), std::invalid_argument);
  optim::LbfgsStep<double> lb(1.0, 10);
  optim::StateDict ls{{"step", {0}}, {"n_iter", {1}}, {"func_evals", {1}}, {"t", {1}}, {"H_diag", {1}}, {"prev_loss", {0}},
                      {"d", three}, {"prev_flat_grad", three}, {"ro", {1}}, {"old_dirs.0", three}, {"old_stps.0", {1, 2}}};
  lb.load_state(ls);
  EXPECT_THROW(lb.check_state(3), std::invalid_argument);  // old_stps.0 is short
  ls["old_stps.0"] = three;
  lb.load_state(ls);
  EXPECT_NO_THROW(lb.check_state(3));
  ls["n_iter"] = {1.5};
  EXPECT_THROW(lb.load_state(ls), std::invalid_argument);
}
