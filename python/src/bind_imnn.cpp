// trusty.IMNN: information-maximising neural networks from Python (docs/imnn.md), on the C++
// loop (imnn::ImnnTrainer) with a built-in simulator, a Python callable
// f(theta, seed, index) -> array of the data shape, or precomputed numpy arrays.
//
// A Python callable runs as a PySimulator (py_simulator.hpp): the loop runs with the GIL
// released and each simulation takes it for the call.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>
#include <sstream>

#include "bindings.hpp"
#include "convert.hpp"
#include "net_handle.hpp"
#include "py_simulator.hpp"
#include "trusty/imnn/estimator.hpp"
#include "trusty/imnn/imnn_trainer.hpp"
#include "trusty/io/module_npz.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/optim/options_check.hpp"
#include "trusty/sim/gaussian.hpp"
#include "trusty/sim/gaussian_field.hpp"

namespace trusty::python {

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using core::Shape;
using core::Tensor;

// Validation and held-out simulations use indices from here on, apart from any training
// index (as `trusty imnn` does).
constexpr int64_t kValidationFirst = int64_t{1} << 40, kTestFirst = int64_t{1} << 41;

// "(n, 10)", "(n, 32, 32)": a shape with a leading axis named `lead`.
std::string lead_str(const std::string& lead, std::span<const int64_t> d) {
  std::string s = "(" + lead;
  for (auto x : d) s += ", " + std::to_string(x);
  return s + ")";
}

// A real-valued numpy array (or anything numpy turns into one), as float64; TypeError
// naming `what` otherwise.
py::array real_array(const py::handle& obj, const std::string& what) {
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(what + ": expected a numpy array of real numbers, got " + type_name(obj));
  }
  const char k = a.dtype().kind();
  if (k != 'f' && k != 'i' && k != 'u')
    throw py::type_error(what + ": expected real numbers (float64), got dtype " + std::string(py::str(a.dtype())));
  return a;
}

Tensor<double> to_tensor(const py::handle& obj, const std::string& what) {
  auto a = Array::ensure(real_array(obj, what));
  std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
  Tensor<double> t{Shape(std::span<const int64_t>(shape))};
  std::copy(a.data(), a.data() + a.size(), t.data());
  return t;
}

py::array_t<double> numpy(const Tensor<double>& t) { return to_numpy<double>(t); }

py::dict summary_dict(const imnn::FisherSummary& s) {
  py::dict d;
  d["fisher"] = numpy(s.fisher);
  d["det_fisher"] = s.det_fisher;
  d["logdet_fisher"] = s.logdet_fisher;
  d["mu"] = numpy(s.mu);
  d["cov"] = numpy(s.cov);
  d["inv_cov"] = numpy(s.inv_cov);
  d["dmu_dtheta"] = numpy(s.dmu);
  d["det_cov"] = s.det_cov;
  d["det_inv_cov"] = s.det_inv_cov;
  d["Λ2"] = s.lambda2;
  d["r"] = s.r;
  d["loss"] = s.loss;
  return d;
}

py::dict record_dict(const imnn::StepRecord& r) {
  py::dict d;
  d["iteration"] = r.iteration;
  d["det_F"] = r.det_fisher, d["det_C"] = r.det_cov, d["det_Cinv"] = r.det_inv_cov, d["Λ2"] = r.lambda2, d["r"] = r.r,
  d["loss"] = r.loss;
  d["val_det_F"] = r.val_det_fisher, d["val_det_C"] = r.val_det_cov, d["val_det_Cinv"] = r.val_det_inv_cov,
  d["val_Λ2"] = r.val_lambda2, d["val_r"] = r.val_r, d["val_loss"] = r.val_loss;
  d["seconds"] = r.seconds;
  return d;
}

struct Imnn {
  std::shared_ptr<Net<double>> net;
  std::unique_ptr<sim::Simulator> simulator;
  std::optional<imnn::SimulationSet> train, val;
  imnn::TrainOptions o;  // the problem (theta_fid, δθ, n_s, ...) and the loop options of the last fit()
  bool fresh = true;
  optim::OptimizerConfig oc;
  std::unique_ptr<optim::Optimizer<double>> opt;
  std::unique_ptr<imnn::ImnnTrainer> trainer;
  std::optional<imnn::FisherSummary> stats;
  std::optional<imnn::Estimator> est;
  Shape data_shape;

  int64_t n_params() const { return static_cast<int64_t>(o.theta_fid.size()); }
  // Modes 2 and 3: sets hold dd/dθ (gradients), not seed-matched pairs.
  bool gradient_mode() const { return o.derivatives != imnn::TrainOptions::Derivatives::seed_matched; }
  bool autodiff_mode() const { return o.derivatives == imnn::TrainOptions::Derivatives::autodiff; }

  // The trainer for the current optimiser settings (rebuilt while no step has been taken).
  imnn::ImnnTrainer& ensure_trainer() {
    if (trainer) return *trainer;
    opt = optim::make_optimizer<double>(oc);
    trainer = std::make_unique<imnn::ImnnTrainer>(*net->net, *opt, o);
    if (train) trainer->set_training(*train);
    else trainer->set_simulator(*simulator);
    if (val) trainer->set_validation(*val);
    return *trainer;
  }

  // A set from arrays: fiducial (n_s, *data_shape) and seed-matched derivatives
  // (n_d, 2, n_params, *data_shape) or dd/dθ (n_d, *data_shape, n_params).
  imnn::SimulationSet set_from_arrays(const py::handle& fid, const py::handle& der, const py::handle& grad,
                                      const std::string& what) const {
    const std::string f_name = what + "fiducial", d_name = what + "derivatives", g_name = what + "gradients";
    if (fid.is_none()) throw py::value_error(f_name + ": expected an array (n_s, *data_shape)");
    if (der.is_none() == grad.is_none())
      throw py::value_error("expected exactly one of " + d_name + " (seed-matched, (n_d, 2, n_params, *data_shape)) or " + g_name +
                            " (dd/dθ, (n_d, *data_shape, n_params))");
    imnn::SimulationSet s;
    s.fiducial = to_tensor(fid, f_name);
    if (!der.is_none()) {
      if (gradient_mode())
        throw py::value_error(d_name + ": this IMNN uses derivatives='gradient' (dd/dθ): give " + g_name + " instead");
      s.derivatives = to_tensor(der, d_name);
      s.delta_theta = o.delta_theta;
    } else {
      if (!gradient_mode())
        throw py::value_error(g_name + ": this IMNN uses seed-matched derivatives: give " + d_name +
                              " (or construct it with derivatives='gradient')");
      s.gradients = to_tensor(grad, g_name);
    }
    const std::string both = f_name + " and " + (der.is_none() ? g_name : d_name);
    s.validate(both);
    if (s.n_params() != n_params())
      throw py::value_error(both + ": " + std::to_string(s.n_params()) + " parameters, but theta_fid has " + std::to_string(n_params()));
    if (data_shape.rank() > 0 && s.data_shape() != data_shape)
      throw py::value_error(f_name + ": expected shape " + lead_str("n_s", data_shape.to_vector()) + ", found " +
                            shape_str(s.fiducial.shape().to_vector()));
    sim::check_finite(s.fiducial.span(), f_name);
    sim::check_finite(der.is_none() ? s.gradients.span() : s.derivatives.span(), der.is_none() ? g_name : d_name);
    return s;
  }

  // n simulations from index `first`, with derivatives for the first n_d (all when n_d = 0).
  imnn::SimulationSet simulated(int64_t first, int64_t n, uint64_t seed, int64_t n_d = 0) const {
    if (!simulator) throw py::value_error("a simulated set needs a simulator; this IMNN was given arrays: pass arrays instead");
    if (n < 2) throw py::value_error("expected a set of at least 2 simulations, got " + std::to_string(n));
    if (n_d <= 0) n_d = n;
    py::gil_scoped_release nogil;  // a Python simulator takes it back per call
    return gradient_mode() ? imnn::simulate_gradient_set(*simulator, o.theta_fid, seed, first, n, n_d, o.threads, autodiff_mode())
                           : imnn::simulate_set(*simulator, o.theta_fid, o.delta_theta, seed, first, n, n_d, o.threads);
  }

  // validation: an int (simulations from the simulator), (fiducial, derivatives) or a dict
  // with fiducial and derivatives (or gradients).
  imnn::SimulationSet set_from(const py::handle& v, uint64_t seed, int64_t first, const std::string& what) const {
    if (py::isinstance<py::int_>(v) && !py::isinstance<py::bool_>(v)) return simulated(first, v.cast<int64_t>(), seed);
    if (py::isinstance<py::dict>(v)) {
      auto d = v.cast<py::dict>();
      for (auto [k, _] : d) {
        const auto key = py::str(k).cast<std::string>();
        if (key != "fiducial" && key != "derivatives" && key != "gradients")
          throw py::value_error(what + ": unknown key '" + key + "' (expected fiducial, derivatives or gradients)");
      }
      auto get = [&](const char* k) { return d.contains(k) ? py::object(d[k]) : py::object(py::none()); };
      return set_from_arrays(get("fiducial"), get("derivatives"), get("gradients"), what + "[");
    }
    if (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) {
      auto t = v.cast<py::sequence>();
      if (py::len(t) != 2) throw py::value_error(what + ": expected (fiducial, derivatives), got " + std::to_string(py::len(t)) + " items");
      return gradient_mode() ? set_from_arrays(t[0], py::none(), t[1], what + " ") : set_from_arrays(t[0], t[1], py::none(), what + " ");
    }
    throw py::type_error(what + ": expected a number of simulations, (fiducial, derivatives) arrays or a dict of them, got " + type_name(v));
  }

  Tensor<double> data_rows(const py::handle& data, bool& single) const {
    auto a = real_array(data, "data");
    const auto want = data_shape.to_vector();
    single = a.ndim() == static_cast<py::ssize_t>(want.size());
    for (py::ssize_t i = 0; single && i < a.ndim(); ++i) single = a.shape(i) == want[static_cast<size_t>(i)];
    const int64_t m = data_shape.numel();
    if (single) {
      auto t = to_tensor(a, "data");
      return t.reshape(Shape{1, m});
    }
    bool ok = a.ndim() >= 2;
    if (ok) {
      int64_t per = 1;
      for (py::ssize_t i = 1; i < a.ndim(); ++i) per *= a.shape(i);
      ok = per == m;
    }
    if (!ok)
      throw py::value_error("data: expected shape " + lead_str("n", want) + " (or " + shape_str(want) + " for one data set), got " +
                            shape_str(a));
    auto t = to_tensor(a, "data");
    sim::check_finite(t.span(), "data");
    return t.reshape(Shape{a.shape(0), m});
  }

  const imnn::FisherSummary& statistics() const {
    if (!stats) throw py::value_error("IMNN: no statistics yet: call fit() first");
    return *stats;
  }
};

std::unique_ptr<sim::Simulator> builtin(const std::string& name, int64_t n_data, int64_t grid) {
  if (name == "gaussian_variance" || name == "gaussian_mean_variance") {
    if (n_data < 1) throw py::value_error("n_data: expected a positive number of data points, got " + std::to_string(n_data));
    if (name == "gaussian_variance") return std::make_unique<sim::GaussianVariance>(n_data);
    return std::make_unique<sim::GaussianMeanVariance>(n_data);
  }
  if (name == "gaussian_field" || name == "lognormal_field") {
    if (grid < 2) throw py::value_error("grid: expected a grid size N >= 2, got " + std::to_string(grid));
    if (name == "gaussian_field") return std::make_unique<sim::GaussianField>(grid);
    return std::make_unique<sim::LognormalField>(grid);
  }
  throw py::value_error("simulator: unknown built-in '" + name +
                        "' (expected gaussian_variance, gaussian_mean_variance, gaussian_field, lognormal_field, or a callable "
                        "f(theta, seed, index))");
}

}  // namespace

void bind_imnn(py::module_& m) {
  py::class_<Imnn, std::shared_ptr<Imnn>>(m, "_IMNN")
      .def(py::init([](std::shared_ptr<Net<double>> net, py::object simulator, std::vector<double> theta_fid,
                       std::vector<double> delta_theta, int64_t n_s, int64_t n_d, py::object fiducial, py::object derivatives,
                       py::object gradients, const std::string& mode, int64_t n_data, int64_t grid,
                       std::vector<int64_t> data_shape, const std::string& name, bool fresh, double lambda, double epsilon,
                       uint64_t seed, int threads, int64_t chunk) {
             auto h = std::make_shared<Imnn>();
             h->net = std::move(net);
             auto& o = h->o;
             if (theta_fid.empty()) throw py::value_error("theta_fid: expected one fiducial value per parameter");
             for (double t : theta_fid)
               if (!std::isfinite(t)) throw py::value_error("theta_fid: expected finite values, got " + theta_str(theta_fid));
             o.theta_fid = theta_fid;
             if (mode != "seed_matched" && mode != "gradient" && mode != "autodiff")
               throw py::value_error("derivatives: expected 'seed_matched', 'gradient' or 'autodiff', got '" + mode + "'");
             o.derivatives = mode == "gradient"   ? imnn::TrainOptions::Derivatives::gradient
                             : mode == "autodiff" ? imnn::TrainOptions::Derivatives::autodiff
                                                  : imnn::TrainOptions::Derivatives::seed_matched;
             if (h->autodiff_mode() && (simulator.is_none() || !py::isinstance<py::str>(simulator)))
               throw py::value_error("derivatives: 'autodiff' differentiates a simulator written with trusty's ops, so it needs a built-in "
                                     "simulator name (gaussian_variance, gaussian_mean_variance, gaussian_field, lognormal_field); for a "
                                     "callable or arrays give dd/dtheta with derivatives='gradient'");
             if (!h->gradient_mode() || !delta_theta.empty()) {
               if (delta_theta.size() != theta_fid.size())
                 throw py::value_error("delta_theta: expected " + std::to_string(theta_fid.size()) + " finite-difference steps (one per parameter), got " +
                                       std::to_string(delta_theta.size()));
               for (double d : delta_theta)
                 if (!(d > 0) || !std::isfinite(d)) throw py::value_error("delta_theta: expected positive steps, got " + theta_str(delta_theta));
             }
             o.delta_theta = delta_theta;
             o.loss = {lambda, epsilon};
             o.seed = seed, o.threads = threads, o.chunk = chunk;
             try {
               o.validate();
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             }
             const auto p = static_cast<int64_t>(theta_fid.size());
             if (simulator.is_none()) {
               h->train = h->set_from_arrays(fiducial, derivatives, gradients, "");
               h->data_shape = h->train->data_shape();
               o.n_s = h->train->n_s(), o.n_d = h->train->n_d();
               h->fresh = false;
             } else {
               if (!fiducial.is_none() || !derivatives.is_none() || !gradients.is_none())
                 throw py::value_error("simulator: give either a simulator or fiducial/derivatives arrays, not both");
               if (py::isinstance<py::str>(simulator)) {
                 h->simulator = builtin(simulator.cast<std::string>(), n_data, grid);
               } else if (py::isinstance<py::function>(simulator) || PyCallable_Check(simulator.ptr())) {
                 std::string nm = name;
                 if (nm.empty()) nm = py::hasattr(simulator, "__name__") ? py::str(simulator.attr("__name__")).cast<std::string>() : type_name(simulator);
                 if (data_shape.empty()) {  // one simulation at θ_fid tells the shape
                   py::object r = simulator(PySimulator::theta_array(theta_fid), seed, 0);
                   py::array a = py::array::ensure(r);
                   if (!a) {
                     PyErr_Clear();
                     throw py::value_error("simulator '" + nm + "' (simulation index 0, theta = " + theta_str(theta_fid) + ") returned " +
                                           type_name(r) + ", expected a numpy array of the data shape");
                   }
                   data_shape.assign(a.shape(), a.shape() + a.ndim());
                   if (data_shape.empty()) data_shape = {1};
                 }
                 for (auto d : data_shape)
                   if (d < 1) throw py::value_error("data_shape: expected positive sizes, got " + shape_str(data_shape));
                 h->simulator = std::make_unique<PySimulator>(py::reinterpret_borrow<py::function>(simulator), nm, p,
                                                              Shape(std::span<const int64_t>(data_shape)));
               } else {
                 throw py::type_error("simulator: expected a built-in name (gaussian_variance, gaussian_mean_variance, gaussian_field, "
                                      "lognormal_field) or a callable f(theta, seed, index) -> array, got " + type_name(simulator));
               }
               if (h->simulator->n_params() != p)
                 throw py::value_error("theta_fid: simulator '" + h->simulator->name() + "' takes " + std::to_string(h->simulator->n_params()) +
                                       " parameters, got " + std::to_string(p) + " values");
               if (n_d <= 0) n_d = n_s;
               if (n_s < 2 || n_d < 1 || n_d > n_s)
                 throw py::value_error("n_s, n_d: expected n_s >= 2 and 1 <= n_d <= n_s, got n_s = " + std::to_string(n_s) +
                                       ", n_d = " + std::to_string(n_d));
               o.n_s = n_s, o.n_d = n_d;
               h->data_shape = h->simulator->data_shape();
               h->fresh = fresh;
               if (!fresh) h->train = h->simulated(0, n_s, seed, n_d);  // one fixed training set
             }
             const int64_t m = h->data_shape.numel();
             if (h->net->in() != m)
               throw py::value_error("net: the network takes " + std::to_string(h->net->in()) + " inputs, but the data have shape " +
                                     shape_str(h->data_shape.to_vector()) + " (" + std::to_string(m) + " values)");
             if (h->net->out() < p)
               throw py::value_error("net: " + std::to_string(h->net->out()) + " outputs (summaries), expected at least one per parameter (" +
                                     std::to_string(p) + ")");
             if (h->net->dropout > 0 || h->net->batch_norm)
               throw py::value_error("net: dropout and batch norm make a summary depend on a random mask or on the other simulations of "
                                     "its batch; the IMNN needs a network without them");
             return h;
           }),
           py::arg("net"), py::arg("simulator"), py::arg("theta_fid"), py::arg("delta_theta"), py::arg("n_s"), py::arg("n_d"),
           py::arg("fiducial"), py::arg("derivatives"), py::arg("gradients"), py::arg("mode"), py::arg("n_data"), py::arg("grid"),
           py::arg("data_shape"), py::arg("name"), py::arg("fresh"), py::arg("lambda_"), py::arg("epsilon"), py::arg("seed"),
           py::arg("threads"), py::arg("chunk"))
      .def(
          "fit",
          [](Imnn& h, std::optional<int64_t> max_iterations, std::optional<int64_t> min_iterations, std::optional<int64_t> patience,
             std::optional<std::string> optimizer, std::optional<double> lr, std::optional<double> beta1, std::optional<double> beta2,
             std::optional<double> momentum, std::optional<double> weight_decay, std::optional<std::string> schedule,
             std::optional<int> t_max, std::optional<double> eta_min, std::optional<int> step_size, std::optional<double> gamma,
             py::object validation, std::optional<int64_t> validate_every, std::optional<std::string> keep,
             std::optional<uint64_t> seed, py::object callback) {
            const optim::OptionFail fail = [](const std::string& key, const std::string& message) {
              throw py::value_error("IMNN.fit: argument " + key + ": " + message);
            };
            // Optimiser: changeable until the first step.
            optim::OptimizerConfig oc = h.oc;
            if (optimizer) oc.name = *optimizer;
            if (lr) oc.lr = *lr;
            if (beta1) oc.beta1 = *beta1;
            if (beta2) oc.beta2 = *beta2;
            if (momentum) oc.momentum = *momentum;
            if (weight_decay) oc.weight_decay = *weight_decay;
            optim::check_optimizer_options(oc, fail);
            const bool started = h.trainer && h.trainer->iteration() > 0;
            const bool changed = oc.name != h.oc.name || oc.beta1 != h.oc.beta1 || oc.beta2 != h.oc.beta2 ||
                                 oc.momentum != h.oc.momentum || oc.weight_decay != h.oc.weight_decay;
            if (started && changed)
              throw py::value_error("IMNN.fit: the optimiser (" + h.oc.name + ") cannot change after training has started (only lr can); "
                                    "build a new IMNN to train with another");
            auto o = h.o;
            if (max_iterations) o.max_iterations = *max_iterations;
            if (min_iterations) o.min_iterations = *min_iterations;
            if (patience) o.patience = *patience;
            if (validate_every) o.validate_every = *validate_every;
            if (keep) {
              if (*keep != "best" && *keep != "final") fail("keep", "expected 'best' or 'final', got '" + *keep + "'");
              o.keep_best = *keep == "best";
            }
            if (seed) o.seed = *seed;
            auto& sc = o.schedule;
            if (schedule) {
              try {
                sc = optim::Schedule::parse(*schedule);
              } catch (const std::invalid_argument& e) {
                fail("schedule", e.what());
              }
              sc.t_max = static_cast<int>(o.max_iterations);
            }
            if (t_max) sc.t_max = *t_max;
            if (eta_min) sc.eta_min = *eta_min;
            if (step_size) sc.step_size = *step_size;
            if (gamma) sc.gamma = *gamma;
            if (sc.t_max < 1) fail("t_max", "expected a positive number of steps, got " + std::to_string(sc.t_max));
            if (sc.step_size < 1) fail("step_size", "expected a positive number of steps, got " + std::to_string(sc.step_size));
            try {
              o.validate();
            } catch (const std::invalid_argument& e) {
              throw py::value_error(std::string("IMNN.fit: ") + e.what());
            }
            std::optional<imnn::SimulationSet> val;
            if (!validation.is_none()) val = h.set_from(validation, o.seed, kValidationFirst, "validation");
            if (h.trainer && !started && changed) h.trainer.reset(), h.opt.reset();  // nothing to keep yet
            h.oc = oc;
            h.o = o;
            if (val) h.val = std::move(val);
            auto& t = h.ensure_trainer();
            t.set_options(o);
            t.set_base_lr(oc.lr);
            if (h.val) t.set_validation(*h.val);
            // Ctrl-C: checked at most every 0.1 s of wall time (taking the GIL every step of a
            // fast loop would cost more than the check is worth); stops after the step.
            int64_t last_check = 0;
            std::optional<py::error_already_set> callback_error;
            t.on_step = [&](const imnn::StepRecord& r) {
              const int64_t now =
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
              if (callback.is_none() && now - last_check < 100) return true;
              last_check = now;
              py::gil_scoped_acquire gil;
              if (PyErr_CheckSignals() != 0) return false;
              if (callback.is_none()) return true;
              try {
                py::object keep_going = callback(record_dict(r));
                return keep_going.is_none() || keep_going.cast<bool>();
              } catch (py::error_already_set& e) {
                callback_error.emplace(std::move(e));
                return false;
              }
            };
            {
              py::gil_scoped_release nogil;
              try {
                t.fit();
              } catch (...) {
                t.on_step = nullptr;
                throw;
              }
              t.on_step = nullptr;
            }
            if (callback_error) throw std::move(*callback_error);
            if (PyErr_Occurred()) throw py::error_already_set();
            h.stats = t.statistics();
            h.est.emplace(h.o.theta_fid, *h.stats);
            return py::none();
          },
          py::arg("max_iterations") = py::none(), py::arg("min_iterations") = py::none(), py::arg("patience") = py::none(),
          py::arg("optimizer") = py::none(), py::arg("lr") = py::none(), py::arg("beta1") = py::none(), py::arg("beta2") = py::none(),
          py::arg("momentum") = py::none(), py::arg("weight_decay") = py::none(), py::arg("schedule") = py::none(),
          py::arg("t_max") = py::none(), py::arg("eta_min") = py::none(), py::arg("step_size") = py::none(),
          py::arg("gamma") = py::none(), py::arg("validation") = py::none(), py::arg("validate_every") = py::none(),
          py::arg("keep") = py::none(), py::arg("seed") = py::none(), py::arg("callback") = py::none())
      .def_property_readonly("history",
                             [](Imnn& h) {
                               const std::vector<imnn::StepRecord> none;
                               const auto& hist = h.trainer ? h.trainer->history() : none;
                               const auto n = static_cast<py::ssize_t>(hist.size());
                               py::dict d;
                               auto col = [&](const char* key, auto member) {
                                 py::array_t<double> a(n);
                                 for (py::ssize_t i = 0; i < n; ++i) a.mutable_data()[i] = static_cast<double>(hist[static_cast<size_t>(i)].*member);
                                 d[key] = a;
                               };
                               py::array_t<int64_t> it(n);
                               for (py::ssize_t i = 0; i < n; ++i) it.mutable_data()[i] = hist[static_cast<size_t>(i)].iteration;
                               d["iteration"] = it;
                               using R = imnn::StepRecord;
                               col("det_F", &R::det_fisher), col("det_C", &R::det_cov), col("det_Cinv", &R::det_inv_cov);
                               col("Λ2", &R::lambda2), col("r", &R::r), col("loss", &R::loss);
                               col("val_det_F", &R::val_det_fisher), col("val_det_C", &R::val_det_cov);
                               col("val_det_Cinv", &R::val_det_inv_cov), col("val_Λ2", &R::val_lambda2), col("val_r", &R::val_r);
                               col("val_loss", &R::val_loss), col("seconds", &R::seconds);
                               return d;
                             })
      .def_property_readonly("statistics", [](Imnn& h) { return summary_dict(h.statistics()); })
      .def_property_readonly("fisher", [](Imnn& h) { return numpy(h.statistics().fisher); })
      .def_property_readonly("det_fisher", [](Imnn& h) { return h.statistics().det_fisher; })
      .def_property_readonly("inverse_fisher", [](Imnn& h) {
        h.statistics();
        return numpy(h.est->inverse_fisher());
      })
      .def_property_readonly("marginal_errors", [](Imnn& h) {
        h.statistics();
        return h.est->marginal_errors();
      })
      .def_property_readonly("iteration", [](Imnn& h) { return h.trainer ? h.trainer->iteration() : int64_t{0}; })
      .def_property_readonly("best_iteration", [](Imnn& h) { return h.trainer ? h.trainer->best_iteration() : int64_t{-1}; })
      .def_property_readonly("stopped_early", [](Imnn& h) { return h.trainer && h.trainer->stopped_early(); })
      .def_property_readonly("data_shape", [](Imnn& h) { return h.data_shape.to_vector(); })
      .def_property_readonly("simulator_name", [](Imnn& h) { return h.simulator ? h.simulator->name() : std::string("arrays"); })
      .def_property_readonly("analytic_fisher",
                             [](Imnn& h) -> py::object {
                               if (!h.simulator) return py::none();
                               auto f = h.simulator->fisher(h.o.theta_fid);
                               return f ? py::object(numpy(*f)) : py::object(py::none());
                             })
      .def(
          "evaluate",
          [](Imnn& h, py::object n, py::object fiducial, py::object derivatives, py::object gradients, std::optional<uint64_t> seed) {
            imnn::SimulationSet s;
            if (!n.is_none()) {
              if (!fiducial.is_none() || !derivatives.is_none() || !gradients.is_none())
                throw py::value_error("evaluate: give either n (simulations from the simulator) or arrays, not both");
              if (!py::isinstance<py::int_>(n)) throw py::type_error("evaluate: n: expected an int, got " + type_name(n));
              s = h.simulated(kTestFirst, n.cast<int64_t>(), seed.value_or(h.o.seed));
            } else {
              s = h.set_from_arrays(fiducial, derivatives, gradients, "");
            }
            auto& t = h.ensure_trainer();
            imnn::FisherSummary st;
            {
              py::gil_scoped_release nogil;
              st = t.evaluate(s);
            }
            return summary_dict(st);
          },
          py::arg("n") = py::none(), py::arg("fiducial") = py::none(), py::arg("derivatives") = py::none(),
          py::arg("gradients") = py::none(), py::arg("seed") = py::none())
      .def(
          "summaries",
          [](Imnn& h, py::handle data) {
            bool single = false;
            auto x = h.data_rows(data, single);
            auto& t = h.ensure_trainer();
            Tensor<double> s;
            {
              py::gil_scoped_release nogil;
              s = t.summaries(x);
            }
            if (single) s = s.reshape(Shape{s.dim(1)});
            return numpy(s);
          },
          py::arg("data"))
      .def(
          "estimate",
          [](Imnn& h, py::handle data) {
            h.statistics();
            bool single = false;
            auto x = h.data_rows(data, single);
            auto& t = h.ensure_trainer();
            Tensor<double> e;
            {
              py::gil_scoped_release nogil;
              e = h.est->estimate(t.summaries(x));
            }
            if (single) e = e.reshape(Shape{e.dim(1)});
            return numpy(e);
          },
          py::arg("data"))
      .def(
          "simulate",
          [](Imnn& h, py::object theta, int64_t n, uint64_t seed, int64_t first) {
            if (!h.simulator) throw py::value_error("simulate: this IMNN was given arrays, not a simulator");
            auto th = theta.is_none() ? h.o.theta_fid : theta.cast<std::vector<double>>();
            if (n < 0) throw py::value_error("simulate: n: expected >= 0, got " + std::to_string(n));
            Tensor<double> out;
            {
              py::gil_scoped_release nogil;
              out = sim::simulate_batch(*h.simulator, th, seed, first, n, h.o.threads);
            }
            return numpy(out);
          },
          py::arg("theta") = py::none(), py::arg("n") = 1, py::arg("seed") = 0, py::arg("first") = 0)
      .def(
          "save_checkpoint", [](Imnn& h, const std::string& path) { h.ensure_trainer().save_checkpoint(path); }, py::arg("path"))
      .def(
          "load_checkpoint",
          [](Imnn& h, const std::string& path, std::optional<std::string> optimizer) {
            if (optimizer && (!h.trainer || h.trainer->iteration() == 0) && *optimizer != h.oc.name) {
              auto oc = h.oc;
              oc.name = *optimizer;
              optim::check_optimizer_options(oc, [](const std::string& key, const std::string& message) {
                throw py::value_error("IMNN.load_checkpoint: argument " + key + ": " + message);
              });
              h.oc = oc;
              h.trainer.reset(), h.opt.reset();
            }
            h.ensure_trainer().load_checkpoint(path);
            h.stats.reset();
            h.est.reset();
          },
          py::arg("path"), py::arg("optimizer") = py::none());
}

}  // namespace trusty::python
