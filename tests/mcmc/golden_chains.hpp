// Loading the golden chains and posterior's numbers written by tools/gen_posterior_golden.R.
#pragma once
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>
#include "test_paths.hpp"

namespace trusty::mcmc::testing {

inline std::string golden_dir() { return std::string(TRUSTY_SOURCE_DIR) + "/tests/mcmc/golden/"; }

inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
  return cells;
}

// Full-token number parse; "NA" is NaN. Throws on anything else.
inline double parse_number(const std::string& s) {
  if (s == "NA") return std::numeric_limits<double>::quiet_NaN();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') throw std::runtime_error("golden: not a number: '" + s + "'");
  return v;
}

// A set of chains as an iterations × chains matrix.
inline Eigen::MatrixXd load_chains(const std::string& name) {
  std::ifstream in(golden_dir() + name + ".csv");
  if (!in) throw std::runtime_error("golden: cannot open " + name + ".csv");
  std::string line;
  std::getline(in, line);  // chain1,chain2,...
  std::vector<std::vector<double>> rows;
  while (std::getline(in, line)) {
    std::vector<double> row;
    for (const auto& cell : split_csv_line(line)) row.push_back(parse_number(cell));
    rows.push_back(std::move(row));
  }
  Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()),
                    static_cast<Eigen::Index>(rows.at(0).size()));
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < x.cols(); ++j) x(i, j) = rows[size_t(i)].at(size_t(j));
  return x;
}

// posterior's numbers: (set, measure) -> value (NaN for NA).
inline std::map<std::pair<std::string, std::string>, double> load_golden() {
  std::ifstream in(golden_dir() + "posterior_golden.csv");
  if (!in) throw std::runtime_error("golden: cannot open posterior_golden.csv");
  std::map<std::pair<std::string, std::string>, double> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("set,", 0) == 0) continue;
    const auto cells = split_csv_line(line);
    out[{cells.at(0), cells.at(1)}] = parse_number(cells.at(2));
  }
  return out;
}

}  // namespace trusty::mcmc::testing
