// The training loop: bit-exact resume from a checkpoint, NaN stops with the last good
// checkpoint kept, early stopping, schedules and clipping.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "trusty/core/rng.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/trainer.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
namespace fs = std::filesystem;

namespace {
io::Dataset<float> blobs(int64_t n, uint64_t seed) {
  core::Rng rng(seed);
  io::Dataset<float> d;
  d.x = Tensor<float>(Shape{n, 4});
  d.classes = 3;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = static_cast<int64_t>(rng.below(3));
    d.labels.push_back(c);
    for (int64_t j = 0; j < 4; ++j) d.x.at({i, j}) = static_cast<float>(rng.normal() + (j == c ? 2.0 : 0.0));
  }
  return d;
}
std::string tmp(const std::string& f) { return (fs::temp_directory_path() / ("trusty_trainer_" + f)).string(); }
}  // namespace

TEST(Trainer, ResumeIsBitIdentical) {
  auto data = blobs(300, 1);
  auto [train, val] = data.split(0.2, 5);
  optim::TrainConfig cfg{.epochs = 6, .batch_size = 32, .l2 = 1e-4, .clip_norm = 5.0, .seed = 9, .progress = false};
  cfg.schedule = optim::Schedule::parse("cosine");
  cfg.schedule.t_max = 6;
  auto build = [] {
    auto n = nn::make_mlp<float>({4, 16, 16, 3}, {.dropout = 0.2, .batch_norm = true});
    n->finalize(4);
    return n;
  };
  // Straight through.
  auto a = build();
  optim::Adam<float> oa({.lr = 0.01f});
  optim::Trainer<float> ta(*a, oa, cfg);
  ta.fit(train, &val);
  // Three epochs, checkpoint, a fresh process-like restart, three more.
  const std::string ck = tmp("resume.npz");
  auto b = build();
  optim::Adam<float> ob({.lr = 0.01f});
  auto cfg3 = cfg;
  cfg3.epochs = 3;
  cfg3.checkpoint = ck;
  optim::Trainer<float> tb(*b, ob, cfg3);
  tb.fit(train, &val);
  auto c = build();
  optim::Adam<float> oc({.lr = 0.5f});  // the checkpoint restores the optimiser's state and lr
  optim::Trainer<float> tc(*c, oc, cfg);
  tc.load_checkpoint(ck);
  EXPECT_EQ(tc.epoch(), 3);
  tc.fit(train, &val);
  ASSERT_EQ(a->num_parameters(), c->num_parameters());
  for (int64_t i = 0; i < a->num_parameters(); ++i)
    ASSERT_EQ(a->parameters()[static_cast<size_t>(i)], c->parameters()[static_cast<size_t>(i)]) << "parameter " << i;
  for (size_t i = 0; i < a->buffers().size(); ++i) ASSERT_EQ(a->buffers()[i], c->buffers()[i]) << "buffer " << i;
  ASSERT_EQ(ta.history().size(), tc.history().size());
  for (size_t e = 0; e < ta.history().size(); ++e) EXPECT_EQ(ta.history()[e].train_loss, tc.history()[e].train_loss);
  // The checkpoint opens in numpy terms: named arrays.
  auto z = io::read_npz(ck);
  EXPECT_TRUE(z.count("param/0.weight"));
  EXPECT_TRUE(z.count("buffer/1.running_mean"));
  EXPECT_TRUE(z.count("optim/exp_avg"));
}

TEST(Trainer, NanStopsNamingEpochAndStepAndKeepsTheCheckpoint) {
  auto data = blobs(200, 2);
  auto net = nn::make_mlp<float>({4, 8, 3});
  net->finalize(1);
  optim::Sgd<float> sgd({.lr = 0.1});
  const std::string ck = tmp("nan.npz");
  fs::remove(ck);
  optim::Trainer<float> tr(*net, sgd, {.epochs = 5, .batch_size = 50, .seed = 1, .checkpoint = ck, .progress = false});
  int epochs_seen = 0;
  // Poison one weight after epoch 2: the loss of epoch 3's first step is NaN.
  tr.on_epoch_end = [&](const optim::EpochRecord&) {
    if (++epochs_seen == 2) net->parameters()[0] = std::numeric_limits<float>::quiet_NaN();
    return true;
  };
  try {
    tr.fit(data);
    FAIL() << "expected TrainingDiverged";
  } catch (const optim::TrainingDiverged& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("epoch 3, step 1"), std::string::npos) << m;
    EXPECT_NE(m.find(ck), std::string::npos) << m;
  }
  auto z = io::read_npz(ck);  // the last good epoch (2) is on disk, finite
  EXPECT_EQ(z.at("epoch").values<int64_t>()[0], 2);
  for (float v : z.at("param/0.weight").values<float>()) ASSERT_TRUE(std::isfinite(v));
}

TEST(Trainer, EarlyStoppingRestoresTheBestWeights) {
  // Labels are noise: validation loss rises soon, so patience stops long before 200 epochs.
  auto data = blobs(120, 3);
  core::Rng r(8);
  for (auto& l : data.labels) l = static_cast<int64_t>(r.below(3));
  auto [train, val] = data.split(0.3, 1);
  auto net = nn::make_mlp<float>({4, 64, 64, 3});
  net->finalize(2);
  optim::Adam<float> adam({.lr = 0.01f});
  optim::Trainer<float> tr(*net, adam, {.epochs = 200, .batch_size = 16, .patience = 5, .progress = false});
  tr.fit(train, &val);
  const auto& h = tr.history();
  EXPECT_LT(h.size(), 200u);
  double best = 1e9;
  for (const auto& e : h) best = std::min(best, e.val_loss);
  EXPECT_NEAR(tr.evaluate(val).loss, best, 1e-5);
  // The best epoch is `patience` epochs before the last one.
  EXPECT_EQ(h[h.size() - 6].val_loss, best);
}

TEST(Trainer, SchedulesMatchClosedForms) {
  optim::Schedule s = optim::Schedule::parse("step");
  s.step_size = 3;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr_at(0, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(5, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(s.lr_at(6, 1.0), 0.25);
  s = optim::Schedule::parse("cosine");
  s.t_max = 10;
  s.eta_min = 0.1;
  EXPECT_DOUBLE_EQ(s.lr_at(0, 1.0), 1.0);
  EXPECT_NEAR(s.lr_at(5, 1.0), 0.55, 1e-15);
  EXPECT_NEAR(s.lr_at(10, 1.0), 0.1, 1e-15);
  s = optim::Schedule::parse("exponential");
  s.gamma = 0.9;
  EXPECT_NEAR(s.lr_at(2, 2.0), 1.62, 1e-15);
  EXPECT_THROW(optim::Schedule::parse("linear"), std::invalid_argument);
}

TEST(Trainer, GradientClipping) {
  std::vector<double> g = {3, 4};
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm<double>(g, 1.0), 5.0);
  EXPECT_NEAR(std::hypot(g[0], g[1]), 1.0, 1e-6);
  std::vector<double> h = {3, -4, 0.5};
  optim::clip_grad_value<double>(h, 1.0);
  EXPECT_EQ(h, (std::vector<double>{1, -1, 0.5}));
}

TEST(Trainer, LbfgsStepsEqualOneLbfgsRun) {
  // On an ill-conditioned quadratic, n training-loop steps of LbfgsStep take the same path
  // as one Lbfgs step with max_iter = n (the one golden-tested against torch.optim.LBFGS).
  const int64_t d = 20;
  std::vector<double> diag(static_cast<size_t>(d));
  for (int64_t i = 0; i < d; ++i) diag[static_cast<size_t>(i)] = 1.0 + 3.0 * static_cast<double>(i);
  auto grad_of = [&](std::span<const double> x, std::span<double> g) {
    double f = 0;
    for (int64_t i = 0; i < d; ++i) {
      const double c = x[static_cast<size_t>(i)] - 1.0 / static_cast<double>(i + 1);
      g[static_cast<size_t>(i)] = diag[static_cast<size_t>(i)] * c + (i > 0 ? 0.5 * x[static_cast<size_t>(i - 1)] : 0.0);
      f += 0.5 * diag[static_cast<size_t>(i)] * c * c;
    }
    return f;
  };
  std::vector<double> x0(static_cast<size_t>(d), 0.3);
  const int n = 6;
  std::vector<double> a = x0, b = x0, g(static_cast<size_t>(d));
  optim::Lbfgs<double> ref({.lr = 0.1, .max_iter = n, .history_size = 5});
  ref.step(grad_of, a);
  auto opt = optim::make_optimizer<double>({.name = "lbfgs", .lr = 0.1, .history_size = 5});
  for (int s = 0; s < n; ++s) {
    grad_of(b, g);
    opt->step(b, g);
  }
  for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(b[static_cast<size_t>(i)], a[static_cast<size_t>(i)], 1e-13) << i;
  EXPECT_NE(a, x0);
  EXPECT_EQ(opt->name(), "lbfgs");
}

TEST(Trainer, FullBatchLbfgsTrainsAndResumes) {
  auto data = blobs(200, 3);
  optim::TrainConfig cfg{.epochs = 30, .batch_size = 200, .shuffle = false, .seed = 2, .progress = false};
  auto build = [] {
    auto n = nn::make_mlp<float>({4, 8, 3}, {.activation = "tanh"});
    n->finalize(7);
    return n;
  };
  auto a = build();
  auto oa = optim::make_optimizer<float>({.name = "lbfgs", .lr = 1.0});
  optim::Trainer<float> ta(*a, *oa, cfg);
  ta.fit(data);
  const auto& h = ta.history();
  EXPECT_LT(h.back().train_loss, 0.5 * h.front().train_loss);
  EXPECT_GT(ta.evaluate(data).accuracy, 0.9);
  // 15 epochs, checkpoint (the curvature pairs included), restart, 15 more: the same weights.
  const std::string ck = tmp("lbfgs.npz");
  auto b = build();
  auto ob = optim::make_optimizer<float>({.name = "lbfgs", .lr = 1.0});
  auto cfg15 = cfg;
  cfg15.epochs = 15;
  cfg15.checkpoint = ck;
  optim::Trainer<float> tb(*b, *ob, cfg15);
  tb.fit(data);
  auto c = build();
  auto oc = optim::make_optimizer<float>({.name = "lbfgs", .lr = 1.0});
  optim::Trainer<float> tc(*c, *oc, cfg);
  tc.load_checkpoint(ck);
  tc.fit(data);
  for (int64_t i = 0; i < a->num_parameters(); ++i)
    ASSERT_EQ(a->parameters()[static_cast<size_t>(i)], c->parameters()[static_cast<size_t>(i)]) << "parameter " << i;
}
