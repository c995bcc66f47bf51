#include "setup.hpp"

#include <cmath>
#include <filesystem>

#include "trusty/core/rng.hpp"
#include "trusty/density/mdn_loss.hpp"
#include "trusty/optim/options_check.hpp"
#include "trusty/nn/conv_layers.hpp"

namespace trusty::apps {

namespace {
void parse_layers(const io::Config& t, ModelSpec& m) {
  m.input_shape = t.get_int_list("input_shape");
  if (m.input_shape.size() < 2 || m.input_shape.size() > 4)
    t.fail("input_shape", "expected [channels, n] to [channels, n0, n1, n2], got " + std::to_string(m.input_shape.size()) + " numbers");
  const int dims = static_cast<int>(m.input_shape.size()) - 1;
  const std::vector<std::string> acts = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus"};
  for (const auto& l : t.table_array("layers")) {
    LayerSpec s;
    s.type = l.get_choice("type", {"conv", "multipole_conv", "max_pool", "avg_pool", "dropout", "flatten", "dense"}, "conv");
    s.dims = dims;
    if (s.type == "conv" || s.type == "multipole_conv") {
      s.channels = l.get_int("channels");
      s.kernel = l.get_int("kernel", 3);
      s.stride = l.get_int("stride", 1);
      s.dilation = l.get_int("dilation", 1);
      s.padding = l.get_choice("padding", {"valid", "same", "periodic"}, "valid");
      s.activation = l.get_choice("activation", acts, "relu");
      if (s.type == "multipole_conv") {
        s.ell = static_cast<int>(l.get_int("ell", 0));
        s.m = static_cast<int>(l.get_int("m", 0));
      }
      if (s.channels < 1) l.fail("channels", "expected a positive number of channels");
    } else if (s.type == "max_pool" || s.type == "avg_pool") {
      s.window = l.get_int("window", 2);
      s.stride = l.get_int("stride", 0);
    } else if (s.type == "dropout") {
      s.p = l.get_double("p");
      if (!(s.p >= 0 && s.p < 1)) l.fail("p", "expected a probability in [0, 1), got " + std::to_string(s.p));
    } else if (s.type == "dense") {
      s.units = l.get_int("units");
      s.activation = l.get_choice("activation", acts, "relu");
    }
    m.layers.push_back(s);
  }
  if (m.layers.empty()) t.fail("layers", "a cnn needs a [[model.layers]] list");
}
}  // namespace

// [train] loss names a registered loss (nn/loss.hpp); its options are the [loss] table.
void parse_loss(const io::Config& root, const io::Config& t, optim::TrainConfig& c) {
  density::register_losses();
  auto names = nn::loss_names<double>();
  if (c.loss != "auto" && std::find(names.begin(), names.end(), c.loss) == names.end())
    t.fail("loss", "expected auto or one of " + nn::join_names(names) + ", got '" + c.loss + "'");
  auto lt = root.table("loss");
  for (const auto& k : lt.keys()) c.loss_options[k] = lt.get_text(k);
  if (c.loss == "auto" && !c.loss_options.empty()) lt.fail(c.loss_options.begin()->first, "a [loss] table needs [train] loss");
  try {
    if (c.loss != "auto") nn::make_loss<double>(c.loss, c.loss_options);
  } catch (const std::invalid_argument& e) {
    lt.fail(c.loss_options.empty() ? "loss" : c.loss_options.begin()->first, e.what());
  }
}

void parse_model(const io::Config& t, ModelSpec& m) {
  m.config_path = t.path();
  m.type = t.get_choice("type", {"mlp", "cnn"}, "mlp");
  if (m.type == "cnn") {
    parse_layers(t, m);
    m.output_activation = t.get_choice("output_activation", {"identity", "sigmoid", "tanh", "softmax"}, "identity");
    return;
  }
  m.hidden = t.get_int_list("hidden", m.hidden);
  for (auto h : m.hidden)
    if (h < 1 || h > optim::kMaxLayerWidth)
      t.fail("hidden", "expected layer widths in [1, " + std::to_string(optim::kMaxLayerWidth) + "], got " + std::to_string(h));
  const std::vector<std::string> acts = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax"};
  m.activation = t.get_choice("activation", acts, m.activation);
  m.output_activation = t.get_choice("output_activation", acts, m.output_activation);
  m.init = t.get_choice("init", {"auto", "zeros", "normal", "uniform", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "torch_linear"}, m.init);
  m.dropout = t.get_double("dropout", m.dropout);
  if (!(m.dropout >= 0 && m.dropout < 1)) t.fail("dropout", "expected a probability in [0, 1), got " + std::to_string(m.dropout));
  m.batch_norm = t.get_bool("batch_norm", m.batch_norm);
}

RunSpec parse_run(const io::Config& root, bool check_unused) {
  RunSpec s;
  s.config_path = root.path();
  s.dtype = root.get_choice("dtype", {"float32", "float64"}, "float32");
  const auto base = std::filesystem::path(root.path()).parent_path();
  auto rel = [&](const std::string& p) {
    if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (base / p).string();
  };
  auto d = root.table("data");
  s.data.name = d.get_string("name", "");
  s.data.csv = rel(d.get_string("csv", ""));
  s.data.x = rel(d.get_string("x", ""));
  s.data.y = rel(d.get_string("y", ""));
  s.data.test_csv = rel(d.get_string("test_csv", ""));
  s.data.test_x = rel(d.get_string("test_x", ""));
  s.data.test_y = rel(d.get_string("test_y", ""));
  s.data.task = d.get_choice("task", {"classification", "regression"}, "classification");
  s.data.target_columns = d.get_int_list("target_columns", s.data.target_columns);
  s.data.validation_split = d.get_double("validation_split", 0.0);
  s.data.limit_train = d.get_int("limit_train", 0);
  if (s.data.limit_train < 0) d.fail("limit_train", "expected a number of rows >= 0 (0: all), got " + std::to_string(s.data.limit_train));
  s.data.drop_nonfinite = d.get_bool("drop_nonfinite", false);
  if (s.data.validation_split < 0 || s.data.validation_split >= 1)
    d.fail("validation_split", "expected a fraction in [0, 1), got " + std::to_string(s.data.validation_split));
  const int sources = !s.data.name.empty() + !s.data.csv.empty() + !s.data.x.empty();
  if (sources != 1) d.fail("name", "expected exactly one of name, csv or x/y to say where the data is");
  if (!s.data.name.empty()) {
    static const std::vector<std::string> names = {"mnist", "fashion-mnist", "xor", "or", "and", "quadratic", "sine_gap", "mdn_mixture"};
    if (std::find(names.begin(), names.end(), s.data.name) == names.end())
      d.fail("name", "expected one of mnist, fashion-mnist, xor, or, and, quadratic, sine_gap, mdn_mixture, got '" + s.data.name + "'");
  }
  for (const auto& [key, path] : {std::pair{"csv", s.data.csv}, std::pair{"x", s.data.x}, std::pair{"y", s.data.y},
                                  std::pair{"test_csv", s.data.test_csv}, std::pair{"test_x", s.data.test_x},
                                  std::pair{"test_y", s.data.test_y}})
  {
    if (!path.empty() && !std::filesystem::exists(path)) d.fail(key, "data file '" + path + "' does not exist");
    if (!path.empty() && std::filesystem::is_directory(path)) d.fail(key, "'" + path + "' is a directory, expected a data file");
  }
  if (!s.data.x.empty() && s.data.y.empty()) d.fail("y", "x is given, so y (the targets, .npy) is required");
  if (!s.data.test_x.empty() && s.data.test_y.empty()) d.fail("test_y", "test_x is given, so test_y (the test targets, .npy) is required");

  parse_model(root.table("model"), s.model);

  auto t = root.table("train");
  auto& o = s.optimizer;
  o.name = t.get_choice("optimizer", {"sgd", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lbfgs"}, "adam");
  // Integer keys held as int: range-checked before the narrowing.
  auto int_key = [&](const char* key, int64_t def) {
    const int64_t v = t.get_int(key, def);
    if (v < -1000000000 || v > 1000000000) t.fail(key, "expected an integer of at most 10^9 in size, got " + std::to_string(v));
    return static_cast<int>(v);
  };
  o.lr = t.get_double("lr", o.name == "lbfgs" ? 1.0 : 1e-3);  // PyTorch's defaults
  o.momentum = t.get_double("momentum", 0.9);
  o.weight_decay = t.get_double("weight_decay", o.name == "adamw" ? 0.01 : 0.0);
  o.beta1 = t.get_double("beta1", 0.9);
  o.beta2 = t.get_double("beta2", 0.999);
  o.eps = t.get_double("eps", -1);
  o.alpha = t.get_double("alpha", 0.99);
  o.amsgrad = t.get_bool("amsgrad", false);
  o.centered = t.get_bool("centered", false);
  o.history_size = int_key("history_size", 100);
  s.threads = int_key("threads", 1);
  if (s.threads < 1 || s.threads > 4096) t.fail("threads", "expected an integer in [1, 4096], got " + std::to_string(s.threads));
  auto& c = s.train;
  c.epochs = int_key("epochs", 10);
  c.batch_size = t.get_int("batch_size", 64);
  c.shuffle = t.get_bool("shuffle", true);
  c.loss = t.get_string("loss", "auto");
  parse_loss(root, t, c);
  c.l1 = t.get_double("l1", 0);
  c.l2 = t.get_double("l2", 0);
  c.clip_norm = t.get_double("clip_norm", 0);
  c.clip_value = t.get_double("clip_value", 0);
  c.patience = int_key("patience", 0);
  c.min_delta = t.get_double("min_delta", 0);
  c.seed = static_cast<uint64_t>(t.get_int("seed", 0));
  c.schedule = optim::Schedule::parse(t.get_choice("schedule", {"constant", "step", "exponential", "cosine"}, "constant"));
  c.schedule.step_size = int_key("step_size", 10);
  c.schedule.gamma = t.get_double("gamma", 0.1);
  c.schedule.t_max = int_key("t_max", std::max(c.epochs, 1));
  c.schedule.eta_min = t.get_double("eta_min", 0);
  const optim::OptionFail fail = [&](const std::string& key, const std::string& message) { t.fail(key, message); };
  optim::check_optimizer_options(o, fail);
  optim::check_train_options(c, fail);
  if (c.patience > 0 && s.data.validation_split <= 0)
    t.fail("patience", "early stopping needs a validation set: set [data] validation_split");
  if (check_unused) root.check_unused();
  return s;
}

namespace {
template <class T>
io::Dataset<T> gate(const std::string& name) {
  io::Dataset<T> d;
  d.x = core::Tensor<T>(core::Shape{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  d.classes = 2;
  if (name == "xor") d.labels = {0, 1, 1, 0};
  if (name == "or") d.labels = {0, 1, 1, 1};
  if (name == "and") d.labels = {0, 0, 0, 1};
  return d;
}

// y = x0² + 3 x0 x1 + x1² + 5, x uniform in [-1, 1]²; a fixed stream per split.
template <class T>
io::Dataset<T> quadratic(int64_t n, uint64_t stream) {
  core::Rng rng(20241007, stream);
  io::Dataset<T> d;
  d.x = core::Tensor<T>(core::Shape{n, 2});
  d.y = core::Tensor<T>(core::Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const double a = rng.uniform(-1, 1), b = rng.uniform(-1, 1);
    d.x.at({i, 0}) = static_cast<T>(a);
    d.x.at({i, 1}) = static_cast<T>(b);
    d.y.at({i, 0}) = static_cast<T>(a * a + 3 * a * b + b * b + 5);
  }
  return d;
}

}  // namespace

template <class T>
io::Dataset<T> sine_gap(int64_t n, bool gap, uint64_t stream) {
  core::Rng rng(20261201, stream);
  io::Dataset<T> d;
  d.x = core::Tensor<T>(core::Shape{n, 1});
  d.y = core::Tensor<T>(core::Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    double x = rng.uniform(-1, 1);
    if (gap) x = x < 0 ? -1 + 0.7 * (x + 1) : 0.3 + 0.7 * x;  // [-1, -0.3] ∪ [0.3, 1]
    d.x.at({i, 0}) = static_cast<T>(x);
    d.y.at({i, 0}) = static_cast<T>(sine_gap_truth(x) + kSineGapNoise * rng.normal());
  }
  return d;
}

namespace {
template <class T>
io::Dataset<T> cast(const io::Dataset<float>& f) {
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else {
    io::Dataset<T> d;
    d.labels = f.labels;
    d.classes = f.classes;
    d.x = core::Tensor<T>(f.x.shape());
    auto src = f.x.span();
    auto dst = d.x.span();
    for (size_t i = 0; i < src.size(); ++i) dst[i] = src[i];
    return d;
  }
}
}  // namespace

// A known 2-component conditional density (density/mdn_loss.hpp), for mixture density networks.
template <class T>
io::Dataset<T> mixture_data(int64_t n, uint64_t stream) {
  core::Tensor<double> x, y;
  density::conditional_mixture_sample(n, stream, x, y);
  io::Dataset<T> d;
  d.x = core::Tensor<T>(x.shape());
  d.y = core::Tensor<T>(y.shape());
  for (int64_t i = 0; i < n; ++i) {
    d.x.data()[i] = static_cast<T>(x.data()[i]);
    d.y.data()[i] = static_cast<T>(y.data()[i]);
  }
  return d;
}

template <class T>
Loaded<T> load_data(const RunSpec& s, bool verbose) {
  Loaded<T> l;
  const bool cls = s.data.task == "classification";
  const auto& n = s.data.name;
  if (n == "mnist" || n == "fashion-mnist") {
    auto tt = io::load_builtin(n, verbose);
    l.train = cast<T>(tt.train);
    l.test = cast<T>(tt.test);
  } else if (n == "xor" || n == "or" || n == "and") {
    l.train = gate<T>(n);
    l.test = gate<T>(n);
  } else if (n == "quadratic") {
    l.train = quadratic<T>(100, 1);
    l.test = quadratic<T>(1000, 2);
  } else if (n == "mdn_mixture") {
    l.train = mixture_data<T>(20000, 1);
    l.test = mixture_data<T>(10000, 2);
  } else if (n == "sine_gap") {
    l.train = sine_gap<T>(100, true, 1);
    l.test = sine_gap<T>(1000, false, 2);
  } else if (!s.data.csv.empty()) {
    std::vector<int> cols(s.data.target_columns.begin(), s.data.target_columns.end());
    l.train = io::load_csv<T>(s.data.csv, cols, cls, s.data.drop_nonfinite);
    if (!s.data.test_csv.empty()) l.test = io::load_csv<T>(s.data.test_csv, cols, cls, s.data.drop_nonfinite);
  } else {
    l.train = io::load_arrays<T>(s.data.x, s.data.y, cls, s.data.drop_nonfinite);
    if (!s.data.test_x.empty()) l.test = io::load_arrays<T>(s.data.test_x, s.data.test_y, cls, s.data.drop_nonfinite);
  }
  // Flatten images to feature vectors for the dense networks.
  for (auto* d : {&l.train, &l.test})
    if (d->x.rank() > 2) d->x = d->x.reshape(core::Shape{d->x.dim(0), d->x.numel() / d->x.dim(0)});
  if (s.data.limit_train > 0 && s.data.limit_train < l.train.size()) {
    std::vector<int64_t> idx;
    core::Rng rng(s.train.seed, 11);
    auto perm = rng.permutation(l.train.size());
    idx.assign(perm.begin(), perm.begin() + s.data.limit_train);
    l.train = l.train.subset(idx);
  }
  if (s.data.validation_split > 0) {
    auto [a, b] = l.train.split(s.data.validation_split, s.train.seed);
    l.train = std::move(a);
    l.val = std::move(b);
  }
  if (l.test.size() > 0 && l.test.x.dim(1) != l.train.x.dim(1))
    throw io::ConfigError(s.config_path + ": [data] the test set has " + std::to_string(l.test.x.dim(1)) +
                          " features but the training set " + std::to_string(l.train.x.dim(1)));
  return l;
}

template <class T>
std::unique_ptr<nn::Sequential<T>> build_cnn(const ModelSpec& m, int64_t in, int64_t out) {
  int64_t per = 1;
  for (auto d : m.input_shape) per *= d;
  if (per != in)
    throw io::ConfigError(m.config_path + ": [model] input_shape holds " + std::to_string(per) + " values per sample, but the data has " +
                          std::to_string(in) + " features");
  auto net = std::make_unique<nn::Sequential<T>>();
  net->template emplace<nn::Reshape<T>>(m.input_shape);
  // Track the sample shape to size dense layers after a flatten.
  std::vector<int64_t> shape = m.input_shape;
  bool flat = false;
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    if (l.type == "conv" || l.type == "multipole_conv") {
      if (flat) throw io::ConfigError(m.config_path + ": [model] layers: a " + l.type + " layer after flatten/dense");
      // A ReLU is fused into the convolution (same function and gradient, one pass fewer).
      // So is a max pooling right after it (window = stride, over the same axes) when the
      // activation is ReLU or none: the full-size output is then never stored.
      nn::ConvOptions o{.dims = l.dims, .stride = l.stride, .dilation = l.dilation, .padding = core::parse_padding(l.padding),
                        .relu = l.activation == "relu"};
      const int64_t cin = shape[0];
      shape[0] = l.channels;
      for (int d = 0; d < l.dims; ++d)
        shape[static_cast<size_t>(d + 1)] = core::conv_out_size(shape[static_cast<size_t>(d + 1)], l.kernel, l.stride, l.dilation, o.padding);
      if (i + 1 < m.layers.size()) {
        const auto& next = m.layers[i + 1];
        bool fits = next.type == "max_pool" && next.dims == l.dims && (next.stride == 0 || next.stride == next.window) && next.window <= 255 &&
                    (l.activation == "relu" || l.activation == "identity");
        for (int d = 0; fits && d < l.dims; ++d) fits = next.window <= shape[static_cast<size_t>(d + 1)];
        if (fits) {
          o.pool = next.window;
          for (int d = 0; d < l.dims; ++d) shape[static_cast<size_t>(d + 1)] /= next.window;
          ++i;
        }
      }
      if (l.type == "conv") net->template emplace<nn::Conv<T>>(cin, l.channels, l.kernel, o);
      else net->template emplace<nn::MultipoleConv<T>>(cin, l.channels, l.kernel, l.ell, l.m, o);
      if (l.activation != "identity" && !o.relu) net->template emplace<nn::Activation<T>>(nn::parse_activation(l.activation));
    } else if (l.type == "max_pool" || l.type == "avg_pool") {
      net->template emplace<nn::Pool<T>>(l.type == "max_pool", l.dims, l.window, l.stride);
      const int64_t st = l.stride > 0 ? l.stride : l.window;
      for (int d = 0; d < l.dims; ++d) shape[static_cast<size_t>(d + 1)] = (shape[static_cast<size_t>(d + 1)] - l.window) / st + 1;
    } else if (l.type == "dropout") {
      net->template emplace<nn::Dropout<T>>(l.p);
    } else if (l.type == "flatten") {
      int64_t n = 1;
      for (auto d : shape) n *= d;
      shape = {n};
      flat = true;
      net->template emplace<nn::Flatten<T>>();
    } else if (l.type == "dense") {
      if (!flat) throw io::ConfigError(m.config_path + ": [model] layers: a dense layer needs a flatten layer before it");
      typename nn::Dense<T>::Options o;
      o.weight_init = {l.activation == "relu" ? nn::Init::he_normal : nn::Init::xavier_uniform, 1.0};
      o.bias_init = {nn::Init::torch_linear, 1.0};
      net->template emplace<nn::Dense<T>>(shape[0], l.units, o);
      shape = {l.units};
      if (l.activation != "identity") net->template emplace<nn::Activation<T>>(nn::parse_activation(l.activation));
    }
    for (auto d : shape)
      if (d < 1) throw io::ConfigError(m.config_path + ": [model] layers: the " + l.type + " layer leaves an empty output (check kernel sizes and pooling)");
  }
  if (!flat) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    shape = {n};
    net->template emplace<nn::Flatten<T>>();
  }
  typename nn::Dense<T>::Options o;
  o.bias_init = {nn::Init::torch_linear, 1.0};
  net->template emplace<nn::Dense<T>>(shape[0], out, o);
  if (m.output_activation != "identity") net->template emplace<nn::Activation<T>>(nn::parse_activation(m.output_activation));
  return net;
}

template <class T>
std::unique_ptr<nn::Sequential<T>> build_model(const ModelSpec& m, int64_t in, int64_t out) {
  if (m.type == "cnn") return build_cnn<T>(m, in, out);
  std::vector<int64_t> widths = {in};
  widths.insert(widths.end(), m.hidden.begin(), m.hidden.end());
  widths.push_back(out);
  optim::check_mlp_widths(widths, "hidden", [&](const std::string& key, const std::string& message) {
    throw io::ConfigError(m.config_path + ": [model] " + key + " (with the data's input and output widths): " + message);
  });
  return nn::make_mlp<T>(widths, {.activation = m.activation, .output_activation = m.output_activation,
                                  .init = m.init, .dropout = m.dropout, .batch_norm = m.batch_norm});
}

template <class T>
int64_t output_width(const io::Dataset<T>& d, const optim::TrainConfig& train) {
  if (d.classification()) return d.classes;
  if (train.loss == "auto") return d.y.dim(1);
  return nn::make_loss<T>(train.loss, train.loss_options)->output_width(d.y.dim(1));
}

template io::Dataset<float> sine_gap<float>(int64_t, bool, uint64_t);
template io::Dataset<double> sine_gap<double>(int64_t, bool, uint64_t);
template Loaded<float> load_data<float>(const RunSpec&, bool);
template Loaded<double> load_data<double>(const RunSpec&, bool);
template std::unique_ptr<nn::Sequential<float>> build_model<float>(const ModelSpec&, int64_t, int64_t);
template std::unique_ptr<nn::Sequential<double>> build_model<double>(const ModelSpec&, int64_t, int64_t);
template int64_t output_width<float>(const io::Dataset<float>&, const optim::TrainConfig&);
template int64_t output_width<double>(const io::Dataset<double>&, const optim::TrainConfig&);

}  // namespace trusty::apps
