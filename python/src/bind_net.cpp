// Networks and trainers for one element type (float32 or float64).
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cmath>

#include "bindings.hpp"
#include "convert.hpp"
#include "net_handle.hpp"
#include "trusty/core/ops.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/nn/loss.hpp"
#include "trusty/nn/losses.hpp"
#include "trusty/optim/options_check.hpp"
#include "trusty/optim/trainer.hpp"

namespace trusty::python {

template <class T>
struct TrainerHandle {
  std::shared_ptr<Net<T>> net;
  std::unique_ptr<optim::Optimizer<T>> opt;
  std::unique_ptr<optim::Trainer<T>> trainer;
  bool classification = true;
};

namespace {
template <class T>
py::dict record(const optim::EpochRecord& r, const std::vector<std::string>& names) {
  py::dict d;
  d["epoch"] = r.epoch;
  d["lr"] = r.lr;
  d["train_loss"] = r.train_loss;
  if (r.train_accuracy >= 0) d["train_accuracy"] = r.train_accuracy;
  if (r.val_loss >= 0) d["val_loss"] = r.val_loss;
  if (r.val_accuracy >= 0) d["val_accuracy"] = r.val_accuracy;
  d["seconds"] = r.seconds;
  d["samples_per_second"] = r.samples_per_second;
  py::dict g;
  for (size_t i = 0; i < names.size() && i < r.grad_norms.size(); ++i) g[py::str(names[i])] = r.grad_norms[i];
  d["grad_norms"] = g;
  return d;
}

// NaN or infinity in training data: a ValueError naming the argument, row and column
// (it would otherwise surface only as "loss became nan").
template <class T>
void check_finite(const core::Tensor<T>& t, const char* arg) {
  const auto v = t.span();
  const int64_t cols = t.rank() == 2 ? std::max<int64_t>(t.dim(1), 1) : 1;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(static_cast<double>(v[i])))
      throw py::value_error(std::string(arg) + ": row " + std::to_string(static_cast<int64_t>(i) / cols) + ", column " +
                            std::to_string(static_cast<int64_t>(i) % cols) + " (0-based): " + std::to_string(static_cast<double>(v[i])) +
                            ", expected a finite number");
}

template <class T>
io::Dataset<T> dataset(const Net<T>& n, const py::handle& x, const py::handle& y, bool cls, const char* xa, const char* ya,
                       const nn::Loss<T>* loss = nullptr) {
  io::Dataset<T> d;
  d.x = features<T>(x, xa, n.in());
  // Targets have the network's width, except for losses that need other outputs (an MDN).
  int64_t cols = n.out();
  if (loss && !cls) {
    const py::array a = py::array::ensure(y);
    if (a && a.ndim() >= 1) cols = a.ndim() == 2 ? a.shape(1) : 1;
    if (loss->output_width(cols) != n.out())
      throw py::value_error(std::string(ya) + ": loss '" + loss->name() + "' needs " + std::to_string(loss->output_width(cols)) +
                            " network outputs for " + std::to_string(cols) + " target columns; the network has " +
                            std::to_string(n.out()));
  }
  targets<T>(y, ya, d.x.dim(0), cols, cls, d);
  check_finite(d.x, xa);
  if (!cls) check_finite(d.y, ya);
  return d;
}

// A view of flat memory owned by `self`: the array keeps the network alive.
template <class T>
py::array_t<T> view(std::span<T> s, py::object self) {
  return py::array_t<T>({static_cast<py::ssize_t>(s.size())}, {static_cast<py::ssize_t>(sizeof(T))}, s.data(), self);
}
}  // namespace

template <class T>
void bind_dtype(py::module_& m, const std::string& suffix) {
  using N = Net<T>;
  py::class_<N, std::shared_ptr<N>>(m, ("MLP" + suffix).c_str(), "A multilayer perceptron with one flat parameter buffer")
      .def(py::init([](std::vector<int64_t> widths, std::string activation, std::string output_activation, std::string init,
                       double dropout, bool batch_norm, uint64_t seed) {
             optim::check_mlp_widths(widths, "widths", [](const std::string& key, const std::string& message) {
               throw py::value_error("MLP: argument " + key + ": " + message);
             });
             auto n = std::make_shared<N>();
             n->widths = widths;
             n->activation = activation;
             n->output_activation = output_activation;
             n->init = init;
             n->dropout = dropout;
             n->batch_norm = batch_norm;
             n->net = nn::make_mlp<T>(widths, {.activation = activation, .output_activation = output_activation,
                                               .init = init, .dropout = dropout, .batch_norm = batch_norm});
             n->net->finalize(seed);
             return n;
           }),
           py::arg("widths"), py::arg("activation") = "relu", py::arg("output_activation") = "identity",
           py::arg("init") = "auto", py::arg("dropout") = 0.0, py::arg("batch_norm") = false, py::arg("seed") = 0)
      .def_property_readonly("dtype", [](const N&) { return dtype_name<T>(); })
      .def_property_readonly("widths", [](const N& n) { return n.widths; })
      .def_property_readonly("num_parameters", [](const N& n) { return n.net->num_parameters(); })
      .def_property_readonly(
          "parameters", [](py::object self) { return view<T>(self.cast<N&>().net->parameters(), self); },
          "The flat parameter vector, a view: writes change the network; it keeps the network alive")
      .def_property_readonly(
          "gradients", [](py::object self) { return view<T>(self.cast<N&>().net->gradients(), self); },
          "The flat gradient vector (same layout), a view")
      .def_property_readonly(
          "buffers", [](py::object self) { return view<T>(self.cast<N&>().net->buffers(), self); },
          "Batch-norm running statistics, a view")
      .def("named_parameters",
           [](const N& n) {
             py::list l;
             for (const auto& e : n.net->named_parameters())
               l.append(py::make_tuple(e.name, py::tuple(py::cast(e.shape.to_vector())), e.offset));
             return l;
           },
           "(name, shape, offset) of every parameter tensor in the flat vector")
      .def("train", [](N& n, bool on) { n.net->train(on); }, py::arg("on") = true)
      .def("eval", [](N& n) { n.net->eval(); })
      .def("__repr__", [](const N& n) { return n.net->describe(); })
      .def("forward",
           [](N& n, py::handle x) {
             auto t = features<T>(x, "x", n.in());
             core::GradScope<T> s;
             return to_numpy<T>(n.net->forward(core::constant_ref(t)).value());
           },
           py::arg("x"), "Outputs for inputs x (n, features); logits for classifiers")
      .def("loss_and_grad",
           [](N& n, py::handle x, py::handle y, const std::string& loss, std::map<std::string, std::string> options) {
             std::unique_ptr<nn::Loss<T>> l;
             try {
               l = nn::make_loss<T>(loss, options);
             } catch (const std::invalid_argument& e) {
               throw py::value_error(std::string("loss: ") + e.what());
             }
             auto d = dataset<T>(n, x, y, l->needs_labels(), "x", "y", l.get());
             core::GradScope<T> s;
             n.net->zero_grad();
             auto out = n.net->forward(core::constant_ref(d.x));
             auto v = l->needs_labels() ? l->value(out, nullptr, d.labels) : l->value(out, &d.y, {});
             s.backward(v);
             auto g = n.net->gradients();
             py::array_t<T> ga(static_cast<py::ssize_t>(g.size()));
             std::copy(g.begin(), g.end(), ga.mutable_data());
             return py::make_tuple(static_cast<double>(v.item()), ga);
           },
           py::arg("x"), py::arg("y"), py::arg("loss") = "cross_entropy",
           py::arg("loss_options") = std::map<std::string, std::string>{},
           "The loss (any registered name, trusty.loss_names()) and its gradient with respect to the flat parameters (a copy)");

  using TH = TrainerHandle<T>;
  py::class_<TH, std::shared_ptr<TH>>(m, ("Trainer" + suffix).c_str(), "The training loop for a network")
      .def(py::init([](std::shared_ptr<N> net, std::string optimizer, double lr, double momentum, double weight_decay,
                       int epochs, int64_t batch_size, std::string loss, double l1, double l2, double clip_norm,
                       std::string schedule, int t_max, int patience, uint64_t seed, bool progress, std::string checkpoint,
                       std::map<std::string, std::string> loss_options) {
             auto h = std::make_shared<TH>();
             h->net = net;
             optim::OptimizerConfig oc;
             oc.name = optimizer;
             oc.lr = lr;
             oc.momentum = momentum;
             oc.weight_decay = weight_decay < 0 ? (optimizer == "adamw" ? 0.01 : 0.0) : weight_decay;
             // The same checks as `trusty train` (optim/options_check.hpp), naming the argument.
             const optim::OptionFail fail = [](const std::string& key, const std::string& message) {
               throw py::value_error("Trainer: argument " + key + ": " + message);
             };
             optim::check_optimizer_options(oc, fail);
             h->opt = optim::make_optimizer<T>(oc);
             optim::TrainConfig c{.epochs = epochs, .batch_size = batch_size, .loss = loss, .l1 = l1, .l2 = l2,
                                  .clip_norm = clip_norm, .patience = patience, .seed = seed, .checkpoint = checkpoint,
                                  .progress = progress};
             c.schedule = optim::Schedule::parse(schedule);
             if (t_max < 0) fail("t_max", "expected an integer >= 1 (or 0: the number of epochs), got " + std::to_string(t_max));
             c.schedule.t_max = t_max > 0 ? t_max : std::max(epochs, 1);
             optim::check_train_options(c, fail);
             c.loss_options = std::move(loss_options);
             try {
               h->trainer = std::make_unique<optim::Trainer<T>>(*net->net, *h->opt, c);
             } catch (const std::invalid_argument& e) {
               throw py::value_error(std::string("Trainer: ") + e.what());
             }
             h->classification = loss == "auto" || (h->trainer->loss() && h->trainer->loss()->needs_labels());
             return h;
           }),
           py::arg("net"), py::arg("optimizer") = "adam", py::arg("lr") = 1e-3, py::arg("momentum") = 0.9,
           py::arg("weight_decay") = -1.0, py::arg("epochs") = 10, py::arg("batch_size") = 64, py::arg("loss") = "auto",
           py::arg("l1") = 0.0, py::arg("l2") = 0.0, py::arg("clip_norm") = 0.0, py::arg("schedule") = "constant",
           py::arg("t_max") = 0, py::arg("patience") = 0, py::arg("seed") = 0, py::arg("progress") = false,
           py::arg("checkpoint") = "", py::arg("loss_options") = std::map<std::string, std::string>{})
      .def("fit",
           [](TH& h, py::handle x, py::handle y, py::handle x_val, py::handle y_val, py::object callback) {
             // Integer labels make a classifier (unless a regression loss was asked for).
             const bool cls = integer_array(y);
             auto train = dataset<T>(*h.net, x, y, cls, "x", "y", h.trainer->loss());
             io::Dataset<T> val;
             const bool has_val = !x_val.is_none();
             if (has_val) val = dataset<T>(*h.net, x_val, y_val, cls, "x_val", "y_val", h.trainer->loss());
             const auto names = h.trainer->parameter_names();
             if (!callback.is_none()) {
               h.trainer->on_epoch_end = [&](const optim::EpochRecord& r) {
                 py::gil_scoped_acquire gil;
                 py::object keep = callback(record<T>(r, names));
                 return keep.is_none() || keep.cast<bool>();
               };
             } else {
               h.trainer->on_epoch_end = nullptr;
             }
             {
               py::gil_scoped_release nogil;
               h.trainer->fit(train, has_val ? &val : nullptr);
             }
             h.trainer->on_epoch_end = nullptr;
             py::list hist;
             for (const auto& r : h.trainer->history()) hist.append(record<T>(r, names));
             return hist;
           },
           py::arg("x"), py::arg("y"), py::arg("x_val") = py::none(), py::arg("y_val") = py::none(),
           py::arg("callback") = py::none(),
           "Trains; callback(record) runs after every epoch (return False to stop). Returns the history")
      .def("evaluate",
           [](TH& h, py::handle x, py::handle y) {
             // Not an array (None, a number, a list): integer_array says no and targets()
             // raises the TypeError naming y (reading .dtype() of a non-array crashed).
             const bool cls = integer_array(y);
             auto d = dataset<T>(*h.net, x, y, cls, "x", "y", h.trainer->loss());
             if (d.size() == 0) throw py::value_error("x: 0 rows, expected at least one sample to evaluate on");
             auto ev = h.trainer->evaluate(d);
             py::dict r;
             r["loss"] = ev.loss;
             if (ev.accuracy >= 0) r["accuracy"] = ev.accuracy;
             if (!cls) r["r2"] = ev.r2;
             return r;
           },
           py::arg("x"), py::arg("y"))
      .def("predict",
           [](TH& h, py::handle x) {
             auto t = features<T>(x, "x", h.net->in());
             // Zero rows in, zero rows out, with the network's output width.
             if (t.dim(0) == 0) return to_numpy<T>(core::Tensor<T>(core::Shape{0, h.net->out()}));
             return to_numpy<T>(h.trainer->predict(t));
           },
           py::arg("x"))
      .def("save_checkpoint", [](TH& h, const std::string& p) { h.trainer->save_checkpoint(p); }, py::arg("path"))
      .def("load_checkpoint", [](TH& h, const std::string& p) { h.trainer->load_checkpoint(p); }, py::arg("path"))
      .def_property_readonly("epoch", [](const TH& h) { return h.trainer->epoch(); });
}

template void bind_dtype<float>(py::module_&, const std::string&);
template void bind_dtype<double>(py::module_&, const std::string&);

}  // namespace trusty::python
