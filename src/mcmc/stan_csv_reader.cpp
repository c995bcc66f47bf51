#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "trusty/mcmc/stan_csv.hpp"

namespace trusty::mcmc {
namespace {

constexpr std::array<std::string_view, 7> kSamplerColumns = {
    "lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// One complete number; from_chars also takes "nan", "inf", "-inf".
std::optional<double> to_double(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

class StanCsvReader {
 public:
  explicit StanCsvReader(std::filesystem::path path) : path_(std::move(path)) {}

  ChainDraws read() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw std::invalid_argument("read_stan_csv: cannot open " + path_.string());
    for (std::string raw; std::getline(in, raw);) {
      ++line_;
      const std::string_view line = trim_cr(raw);
      if (!line.empty() && line.front() == '#') {
        header_.empty() ? config_comment(line) : body_comment(line);
      } else if (header_.empty()) {
        header(line);
      } else {
        row(line);
      }
    }
    if (header_.empty()) fail("no header row (lp__,accept_stat__,...) found");
    return finish();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument("read_stan_csv: " + path_.string() + ":" + std::to_string(line_) +
                                ": " + what);
  }
  static std::string_view trim_cr(const std::string& s) {
    std::string_view v(s);
    if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
    return v;
  }
  static std::string_view comment_text(std::string_view line) {
    while (!line.empty() && line.front() == '#') line.remove_prefix(1);
    return trim(line);
  }

  int64_t integer(std::string_view key, std::string_view value) const {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size())
      fail(std::string(key) + " = '" + std::string(value) + "' is not an integer");
    return v;
  }

  // "#   key = value (Default)" before the header; lines without '=' are section names.
  void config_comment(std::string_view line) {
    const std::string_view text = comment_text(line);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos) return;
    const std::string_view key = trim(text.substr(0, eq));
    std::string_view value = trim(text.substr(eq + 1));
    if (value.ends_with("(Default)")) value = trim(value.substr(0, value.size() - 9));
    if (key == "id") {
      chain_.chain_id = static_cast<int>(integer(key, value));
    } else if (key == "metric") {
      chain_.metric = std::string(value);
    } else if (key == "save_warmup") {
      save_warmup_ = value == "1" || value == "true";
    } else if (key == "gradient_evaluations") {
      chain_.gradient_evaluations = integer(key, value);
    } else {
      chain_.config.emplace_back(std::string(key), std::string(value));
    }
  }

  void header(std::string_view line) {
    header_line_ = line_;
    for (const auto name : split(line, ',')) header_.emplace_back(trim(name));
    for (size_t k = 0; k < kSamplerColumns.size(); ++k) {
      for (size_t j = 0; j < header_.size(); ++j)
        if (header_[j] == kSamplerColumns[k]) sampler_index_[k] = j;
      if (sampler_index_[k] == kMissing)
        fail("missing required column '" + std::string(kSamplerColumns[k]) + "' in the header");
    }
    for (size_t j = 0; j < header_.size(); ++j)
      if (std::find(sampler_index_.begin(), sampler_index_.end(), j) == sampler_index_.end()) {
        param_index_.push_back(j);
        chain_.param_names.push_back(header_[j]);
      }
    cells_.resize(header_.size());
    integral_.assign(header_.size(), false);
    for (const size_t k : {3, 4, 5}) integral_[sampler_index_[k]] = true;  // treedepth__ .. divergent__
  }

  void row(std::string_view line) {
    const auto cells = split(line, ',');
    if (cells.size() != header_.size())
      fail("row has " + std::to_string(cells.size()) + " cells, the header (line " +
           std::to_string(header_line_) + ") has " + std::to_string(header_.size()) + " columns");
    for (size_t j = 0; j < cells.size(); ++j) {
      const auto v = to_double(cells[j]);
      if (!v)
        fail("column " + std::to_string(j + 1) + " (" + header_[j] + "): expected a number, found '" +
             std::string(cells[j]) + "'");
      if (integral_[j] && !(std::isfinite(*v) && *v == std::round(*v)))
        fail("column " + std::to_string(j + 1) + " (" + header_[j] + "): expected an integer, found '" +
             std::string(cells[j]) + "'");
      cells_[j].push_back(*v);
    }
    ++n_rows_;
  }

  std::vector<double> numbers(std::string_view text) const {
    std::vector<double> out;
    for (const auto cell : split(text, ',')) {
      const auto v = to_double(trim(cell));
      if (!v) fail("expected a number in the inverse metric, found '" + std::string(trim(cell)) + "'");
      out.push_back(*v);
    }
    return out;
  }

  // Comments after the header: the adaptation block and the timing block.
  void body_comment(std::string_view line) {
    const std::string_view text = comment_text(line);
    // The diagonal's one row must be numbers; a dense metric's rows run while they are.
    if (metric_rows_left_ > 0 || (metric_rows_left_ < 0 && to_double(trim(split(text, ',')[0])))) {
      metric_rows_.push_back(numbers(text));
      if (metric_rows_left_ > 0) --metric_rows_left_;
      return;
    }
    metric_rows_left_ = 0;
    if (text == "Adaptation terminated") {
      adaptation_seen_ = true;
      chain_.n_warmup_saved = n_rows_;
    } else if (text.starts_with("Step size =")) {
      const auto v = to_double(trim(text.substr(11)));
      if (!v) fail("cannot read the step size in '" + std::string(text) + "'");
      chain_.step_size = *v;
    } else if (text == "Diagonal elements of inverse mass matrix:") {
      chain_.metric = "diag_e";
      metric_rows_left_ = 1;
    } else if (text == "Elements of inverse mass matrix:") {
      chain_.metric = "dense_e";
      metric_rows_left_ = -1;  // as many rows as follow
    } else if (text.starts_with("No free parameters for unit metric")) {
      chain_.metric = "unit_e";
    } else if (text.starts_with("Elapsed Time:")) {
      chain_.seconds_warmup = seconds(text.substr(13));
      timing_next_ = true;
      return;
    } else if (timing_next_ && text.ends_with("(Sampling)")) {
      chain_.seconds_sampling = seconds(text);
    }
    timing_next_ = false;
  }

  double seconds(std::string_view text) const {
    const std::string_view t = trim(text);
    const auto v = to_double(t.substr(0, t.find(' ')));
    if (!v) fail("cannot read the time in '" + std::string(t) + "'");
    return *v;
  }

  // treedepth__, n_leapfrog__, divergent__: whole numbers >= 0 that fit an int (a cast of
  // anything else is undefined behaviour, and such a file is not a chain).
  void fill_integers(std::vector<int>& out, size_t k) const {
    for (const double v : cells_[sampler_index_[k]]) {
      if (!(v >= 0 && v <= 2147483647.0 && v == std::floor(v)))
        fail("column '" + std::string(kSamplerColumns[k]) + "' holds " + std::to_string(v) + ", expected a whole number >= 0");
      out.push_back(static_cast<int>(v));
    }
  }

  void inverse_metric() {
    if (metric_rows_.empty()) return;
    const auto n = static_cast<Eigen::Index>(metric_rows_[0].size());
    if (chain_.metric == "diag_e") {
      chain_.inv_metric = Eigen::Map<const Eigen::VectorXd>(metric_rows_[0].data(), n);
      return;
    }
    if (static_cast<Eigen::Index>(metric_rows_.size()) != n)
      fail("the dense inverse metric has " + std::to_string(metric_rows_.size()) + " rows of " +
           std::to_string(n));
    chain_.inv_metric.resize(n, n);
    for (Eigen::Index i = 0; i < n; ++i) {
      if (static_cast<Eigen::Index>(metric_rows_[size_t(i)].size()) != n)
        fail("the dense inverse metric is not square");
      for (Eigen::Index j = 0; j < n; ++j) chain_.inv_metric(i, j) = metric_rows_[size_t(i)][size_t(j)];
    }
  }

  int64_t config_or(const std::string& key, int64_t fallback) const {
    for (const auto& [k, v] : chain_.config)
      if (k == key) return integer(key, v);
    return fallback;
  }

  ChainDraws finish() {
    inverse_metric();
    if (!adaptation_seen_ && save_warmup_) {  // e.g. CmdStan without adaptation
      const int64_t thin = config_or("thin", 1), warmup = config_or("num_warmup", 0);
      chain_.n_warmup_saved = std::min<int64_t>(warmup <= 0 ? 0 : 1 + (warmup - 1) / thin, n_rows_);
    }
    const auto column = [&](size_t k) { return cells_[sampler_index_[k]]; };
    chain_.lp = column(0);
    chain_.accept_stat = column(1);
    chain_.stepsize = column(2);
    fill_integers(chain_.treedepth, 3);
    fill_integers(chain_.n_leapfrog, 4);
    fill_integers(chain_.divergent, 5);
    chain_.energy = column(6);
    chain_.params.resize(n_rows_, static_cast<Eigen::Index>(param_index_.size()));
    for (size_t p = 0; p < param_index_.size(); ++p)
      for (Eigen::Index i = 0; i < n_rows_; ++i)
        chain_.params(i, Eigen::Index(p)) = cells_[param_index_[p]][size_t(i)];
    return std::move(chain_);
  }

  static constexpr size_t kMissing = static_cast<size_t>(-1);
  std::filesystem::path path_;
  int64_t line_ = 0, header_line_ = 0;
  ChainDraws chain_;
  std::vector<std::string> header_;
  std::array<size_t, 7> sampler_index_ = {kMissing, kMissing, kMissing, kMissing,
                                          kMissing, kMissing, kMissing};
  std::vector<size_t> param_index_;
  std::vector<std::vector<double>> cells_;  // per column
  std::vector<bool> integral_;              // per column: must hold integers
  Eigen::Index n_rows_ = 0;
  bool save_warmup_ = false, adaptation_seen_ = false, timing_next_ = false;
  int metric_rows_left_ = 0;  // > 0: rows still expected; −1: any number of rows
  std::vector<std::vector<double>> metric_rows_;
};

}  // namespace

ChainDraws read_stan_csv(const std::filesystem::path& path) { return StanCsvReader(path).read(); }

}  // namespace trusty::mcmc
