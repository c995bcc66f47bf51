#include "convert.hpp"

#include <cstring>
#include <sstream>

namespace trusty::python {

std::string shape_str(std::span<const int64_t> dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

std::string shape_str(const py::array& a) {
  const std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
  return shape_str(dims);
}

std::string theta_str(std::span<const double> theta) {
  std::ostringstream os;
  os << "(";
  for (size_t a = 0; a < theta.size(); ++a) os << (a ? ", " : "") << theta[a];
  return os.str() + (theta.size() == 1 ? ",)" : ")");
}

std::string type_name(const py::handle& o) { return py::str(py::type::of(o).attr("__name__")); }

bool integer_array(const py::handle& obj) {
  if (!py::isinstance<py::array>(obj)) return false;
  const char k = py::reinterpret_borrow<py::array>(obj).dtype().kind();
  return k == 'i' || k == 'u';
}

namespace {
py::array as_array(const py::handle& obj, const char* arg) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(arg) + ": expected a numpy array, got " + std::string(py::str(py::type::of(obj))));
  return py::reinterpret_borrow<py::array>(obj);
}
}  // namespace

template <class T>
core::Tensor<T> features(const py::handle& obj, const char* arg, int64_t nfeat) {
  py::array a = as_array(obj, arg);
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(arg) + ": expected a " + dtype_name<T>() + " array of shape (n, " +
                         std::to_string(nfeat) + "), got dtype " + std::string(py::str(a.dtype())));
  int64_t per_row = 1;
  for (py::ssize_t i = 1; i < a.ndim(); ++i) per_row *= a.shape(i);
  if (a.ndim() < 2 || per_row != nfeat)
    throw py::value_error(std::string(arg) + ": expected shape (n, " + std::to_string(nfeat) + ") (or (n, ...) with " +
                          std::to_string(nfeat) + " values per row), got " + shape_str(a));
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  const int64_t n = a.shape(0);
  core::Tensor<T> t(core::Shape{n, nfeat});
  if (n * nfeat > 0) std::memcpy(t.data(), c.data(), static_cast<size_t>(n * nfeat) * sizeof(T));
  return t;
}

template <class T>
void targets(const py::handle& obj, const char* arg, int64_t n, int64_t outputs, bool classification, io::Dataset<T>& d) {
  py::array a = as_array(obj, arg);
  if (a.ndim() == 0 || a.shape(0) != n)
    throw py::value_error(std::string(arg) + ": expected " + std::to_string(n) + " rows (one per row of x), got shape " + shape_str(a));
  if (classification) {
    if (a.dtype().kind() != 'i' && a.dtype().kind() != 'u')
      throw py::type_error(std::string(arg) + ": a classifier needs integer class labels of shape (" + std::to_string(n) +
                           ",), got dtype " + std::string(py::str(a.dtype())));
    if (a.ndim() != 1) throw py::value_error(std::string(arg) + ": expected labels of shape (" + std::to_string(n) + ",), got " + shape_str(a));
    auto c = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    d.labels.assign(c.data(), c.data() + n);
    for (auto l : d.labels)
      if (l < 0 || l >= outputs)
        throw py::value_error(std::string(arg) + ": label " + std::to_string(l) + " outside [0, " + std::to_string(outputs) + ") for a network with " +
                              std::to_string(outputs) + " outputs");
    d.classes = outputs;
    return;
  }
  if (!a.dtype().is(py::dtype::of<T>()))
    throw py::type_error(std::string(arg) + ": expected regression targets of dtype " + dtype_name<T>() + ", got " + std::string(py::str(a.dtype())));
  int64_t per_row = 1;
  for (py::ssize_t i = 1; i < a.ndim(); ++i) per_row *= a.shape(i);
  if (per_row != outputs)
    throw py::value_error(std::string(arg) + ": expected shape (" + std::to_string(n) + ", " + std::to_string(outputs) + "), got " + shape_str(a));
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  d.y = core::Tensor<T>(core::Shape{n, outputs});
  if (n * outputs > 0) std::memcpy(d.y.data(), c.data(), static_cast<size_t>(n * outputs) * sizeof(T));
}

template <class T>
py::array_t<T> to_numpy(const core::Tensor<T>& t0) {
  auto t = t0.contiguous();
  std::vector<py::ssize_t> shape(t.shape().dims().begin(), t.shape().dims().end());
  py::array_t<T> a(shape);
  if (t.numel() > 0) std::memcpy(a.mutable_data(), t.data(), static_cast<size_t>(t.numel()) * sizeof(T));
  return a;
}

#define TRUSTY_INST(T)                                                                                     \
  template core::Tensor<T> features<T>(const py::handle&, const char*, int64_t);                            \
  template void targets<T>(const py::handle&, const char*, int64_t, int64_t, bool, io::Dataset<T>&);        \
  template py::array_t<T> to_numpy<T>(const core::Tensor<T>&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::python
