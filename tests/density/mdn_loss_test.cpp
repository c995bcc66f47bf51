// The MDN negative log-likelihood as an nn::Loss: registered by name beside the built-ins,
// options validated, and trained by the Trainer like any other loss.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "trusty/density/mdn_loss.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/trainer.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;

TEST(MdnLoss, RegisteredBesideTheBuiltins) {
  density::register_losses();
  density::register_losses();  // idempotent
  const auto names = nn::loss_names<double>();
  for (const char* n : {"bce", "cross_entropy", "half_sse", "mdn", "mse"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  auto loss = nn::make_loss<double>("mdn", {{"components", "3"}, {"covariance", "full"}});
  EXPECT_EQ(loss->name(), "mdn");
  EXPECT_EQ(loss->output_width(2), 3 * (1 + 2 + 3));
  auto msg = test::invalid_argument_message([] { nn::make_loss<double>("mdn", {{"component", "3"}}); });
  EXPECT_NE(msg.find("unknown option 'component'"), std::string::npos) << msg;
  msg = test::invalid_argument_message([] { nn::make_loss<double>("mdn", {{"components", "two"}}); });
  EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;
  msg = test::invalid_argument_message([] { nn::make_loss<double>("mdn", {{"dims", "2"}})->output_width(1); });
  EXPECT_NE(msg.find("dims = 2 but the targets have 1 columns"), std::string::npos) << msg;
  msg = test::invalid_argument_message([] { nn::make_loss<double>("msee"); });
  EXPECT_NE(msg.find("expected bce, cross_entropy, half_sse, mdn or mse"), std::string::npos) << msg;
  msg = test::invalid_argument_message([] { nn::make_loss<double>("mse", {{"components", "2"}}); });
  EXPECT_NE(msg.find("takes none"), std::string::npos) << msg;
}

TEST(MdnLoss, TrainerFitsTheConditionalMixture) {
  // A 1-16-16-6 tanh MDN on 4,000 pairs for 30 epochs, straight through the Trainer: the
  // held-out NLL comes within 0.05 nats of the true density's (the 0.02 acceptance with
  // 20,000 pairs runs through `trusty train` in tests/apps/density_cli_test.cpp). The mixture
  // mean is the point prediction, so R² is reported.
  io::Dataset<double> train, test;
  density::conditional_mixture_sample(4000, 1, train.x, train.y);
  density::conditional_mixture_sample(4000, 2, test.x, test.y);
  auto net = nn::make_mlp<double>({1, 16, 16, 6}, {.activation = "tanh"});
  net->finalize(3);
  auto opt = optim::make_optimizer<double>({.name = "adam", .lr = 5e-3});
  optim::TrainConfig cfg;
  cfg.epochs = 30;
  cfg.batch_size = 128;
  cfg.progress = false;
  cfg.loss = "mdn";
  density::register_losses();
  optim::Trainer<double> trainer(*net, *opt, cfg);
  trainer.fit(train);
  const auto ev = trainer.evaluate(test);
  double truth = 0;
  for (int64_t i = 0; i < test.size(); ++i) truth -= density::conditional_mixture_log_density(test.x.data()[i], test.y.data()[i]);
  truth /= static_cast<double>(test.size());
  EXPECT_LT(ev.loss - truth, 0.05) << "NLL " << ev.loss << " truth " << truth;
  EXPECT_GT(ev.r2, 0.5);
  // The same through a loss object handed over directly (no registry).
  optim::TrainConfig c2 = cfg;
  c2.loss = "auto";
  c2.epochs = 1;
  optim::Trainer<double> t2(*net, *opt, c2);
  t2.set_loss(std::make_unique<density::MdnLoss<double>>(density::MdnSpec{}));
  EXPECT_EQ(t2.loss_name(), "mdn");
  EXPECT_NEAR(t2.evaluate(test).loss, ev.loss, 1e-12);
}
