// Strict reading of TOML configs: every key a command reads is declared with its type;
// a key that is not read, a wrong type or a bad value is reported as
//   FILE: [table] key: expected ..., got ...
// so that a typo never silently falls back to a default.
#pragma once
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace trusty::io {

class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class Config {
 public:
  static Config load(const std::string& path);  // throws ConfigError on syntax errors
  Config(const Config&);
  ~Config();

  // A sub-table ("data", "model", ...); an absent table reads as empty.
  Config table(const std::string& name) const;
  // An array of tables ([[model.layers]]); absent: empty.
  std::vector<Config> table_array(const std::string& name) const;
  bool has(const std::string& key) const;
  // The keys of this table, in the file's order (for tables whose keys are open-ended,
  // such as [loss], whose options belong to the loss named).
  std::vector<std::string> keys() const;
  // A string, integer, float or boolean value as text ("3", "0.5", "true", "full").
  std::string get_text(const std::string& key) const;

  std::string get_string(const std::string& key, const std::optional<std::string>& def = std::nullopt) const;
  double get_double(const std::string& key, const std::optional<double>& def = std::nullopt) const;
  int64_t get_int(const std::string& key, const std::optional<int64_t>& def = std::nullopt) const;
  bool get_bool(const std::string& key, const std::optional<bool>& def = std::nullopt) const;
  std::vector<int64_t> get_int_list(const std::string& key, const std::optional<std::vector<int64_t>>& def = std::nullopt) const;
  std::vector<double> get_double_list(const std::string& key) const;
  std::vector<std::string> get_string_list(const std::string& key) const;
  std::vector<std::vector<int64_t>> get_int_list_list(const std::string& key) const;
  // One of `choices`.
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices, const std::string& def) const;

  // Throws naming every key of this table (and the sub-tables read) that nothing read.
  void check_unused() const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  const std::string& path() const { return path_; }
  std::string where(const std::string& key) const;  // "FILE: [model] widths"

 private:
  Config() = default;
  std::string path_, prefix_;
  std::shared_ptr<toml::table> root_;
  const toml::table* table_ = nullptr;
  std::shared_ptr<std::set<std::string>> used_;  // full dotted keys read, shared by all views
};

}  // namespace trusty::io
