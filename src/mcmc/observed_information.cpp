#include "trusty/mcmc/observed_information.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace trusty::mcmc {

Eigen::MatrixXd observed_information(const LogDensity& density, std::span<const double> theta, double step) {
  const auto d = static_cast<Eigen::Index>(theta.size());
  if (d != density.dim())
    throw std::invalid_argument("observed_information: theta has " + std::to_string(d) + " elements, the density " +
                                std::to_string(density.dim()));
  if (!(step > 0)) throw std::invalid_argument("observed_information: step must be positive, got " + std::to_string(step));
  std::vector<double> x(theta.begin(), theta.end()), gp(x.size()), gm(x.size());
  Eigen::MatrixXd h(d, d);
  for (Eigen::Index i = 0; i < d; ++i) {
    const auto ui = static_cast<size_t>(i);
    const double xi = x[ui];
    x[ui] = xi + step;
    density.log_density_and_gradient(x, gp);
    x[ui] = xi - step;
    density.log_density_and_gradient(x, gm);
    x[ui] = xi;
    for (Eigen::Index j = 0; j < d; ++j) h(i, j) = -(gp[static_cast<size_t>(j)] - gm[static_cast<size_t>(j)]) / (2 * step);
  }
  return 0.5 * (h + h.transpose());
}

}  // namespace trusty::mcmc
