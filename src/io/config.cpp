#include "trusty/io/config.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace trusty::io {

namespace {
std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}
}  // namespace

namespace {
constexpr size_t kMaxConfigBytes = size_t{16} << 20;

// TOML allows non-ASCII text only inside strings and comments. Anything else is refused
// here, naming line and column, before toml++ sees it: toml++ 3.3 (Debian 12) reaches
// undefined behaviour (TOML_UNREACHABLE in is_non_ascii_horizontal_whitespace) on some
// non-ASCII characters in structural positions, e.g. "[a" then U+00B2 (found by fuzz_config).
// A quote opens a string only where TOML lets one start: at the start of a line or after
// '=', '[', ',', '{' or '.' (spaces between). Elsewhere, e.g. inside a bare value such as
// `2B@'''`, toml++ scans on through the quote character by character, so the text after it
// is structural too (found by fuzz_imnn_config: `grid = 2B...'''` then U+FEFF).
void check_structure_is_ascii(const std::string& t, const std::string& path) {
  size_t line = 1, col = 1;
  enum { plain, comment, basic, literal, ml_basic, ml_literal } state = plain;
  int prev = -1;  // the last character on this line that was not a space or tab (-1: none)
  auto string_may_start = [&] { return prev == -1 || std::strchr("=[,{.", prev) != nullptr; };  // prev is never NUL (refused below)
  for (size_t i = 0; i < t.size(); ++i, ++col) {
    const char ch = t[i];
    // TOML allows no control character but tab and line ends anywhere, strings and comments
    // included (and a NUL once passed for a line start here: fuzz_imnn_config).
    if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f) {
      char what[96];
      std::snprintf(what, sizeof what, ":%zu:%zu: control character 0x%02x (TOML allows only tab and line ends)", line, col,
                    static_cast<unsigned>(static_cast<unsigned char>(ch)));
      throw ConfigError(path + what);
    }
    if (ch == '\n') {
      ++line, col = 0, prev = -1;
      if (state == comment || state == basic || state == literal) state = plain;  // unterminated: toml++ reports it
      continue;
    }
    switch (state) {
      case plain:
        if (ch == '#') state = comment;
        else if (t.compare(i, 3, "\"\"\"") == 0 && string_may_start()) state = ml_basic, i += 2, col += 2;
        else if (t.compare(i, 3, "'''") == 0 && string_may_start()) state = ml_literal, i += 2, col += 2;
        else if (ch == '"' && string_may_start()) state = basic;
        else if (ch == '\'' && string_may_start()) state = literal;
        else if (static_cast<unsigned char>(ch) >= 0x80)
          throw ConfigError(path + ":" + std::to_string(line) + ":" + std::to_string(col) +
                            ": a non-ASCII character outside a string or comment (TOML keys and values are ASCII unless quoted)");
        break;
      case comment: break;
      case basic:
        if (ch == '\\') ++i, ++col;
        else if (ch == '"') state = plain;
        break;
      case literal:
        if (ch == '\'') state = plain;
        break;
      case ml_basic:
        if (ch == '\\') ++i, ++col;
        else if (t.compare(i, 3, "\"\"\"") == 0) state = plain, i += 2, col += 2;
        break;
      case ml_literal:
        if (t.compare(i, 3, "'''") == 0) state = plain, i += 2, col += 2;
        break;
    }
    if (state == plain && ch != ' ' && ch != '\t') prev = static_cast<unsigned char>(ch);  // a closing quote counts: `"a" "b"` is no start
  }
}
}  // namespace

Config::Config(const Config&) = default;
Config::~Config() = default;

Config Config::load(const std::string& path) {
  Config c;
  c.path_ = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(path + ": is a directory, expected a TOML config file");
  if (!std::filesystem::exists(path, ec)) throw ConfigError(path + ": no such file, expected a TOML config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > kMaxConfigBytes)
    throw ConfigError(path + ": " + std::to_string(text.size()) + " bytes, expected a config of at most " + std::to_string(kMaxConfigBytes));
  check_structure_is_ascii(text, path);
  try {
    c.root_ = std::make_shared<toml::table>(toml::parse(text, path));
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw ConfigError(os.str());
  }
  c.table_ = c.root_.get();
  c.used_ = std::make_shared<std::set<std::string>>();
  return c;
}

std::string Config::where(const std::string& key) const {
  return path_ + ": " + (prefix_.empty() ? "" : "[" + prefix_ + "] ") + key;
}

void Config::fail(const std::string& key, const std::string& message) const { throw ConfigError(where(key) + ": " + message); }

Config Config::table(const std::string& name) const {
  Config c = *this;
  c.prefix_ = prefix_.empty() ? name : prefix_ + "." + name;
  used_->insert(c.prefix_);
  static const toml::table empty;
  const toml::node* n = table_ ? table_->get(name) : nullptr;
  if (n && !n->is_table()) fail(name, "expected a table, got " + type_name(*n));
  c.table_ = n ? n->as_table() : &empty;
  return c;
}

std::vector<Config> Config::table_array(const std::string& name) const {
  const std::string full = prefix_.empty() ? name : prefix_ + "." + name;
  used_->insert(full);
  std::vector<Config> out;
  const toml::node* n = table_ ? table_->get(name) : nullptr;
  if (!n) return out;
  if (!n->is_array_of_tables()) fail(name, "expected an array of tables ([[" + full + "]]), got " + type_name(*n));
  size_t i = 0;
  for (const auto& e : *n->as_array()) {
    Config c = *this;
    c.prefix_ = full + "[" + std::to_string(i++) + "]";
    used_->insert(c.prefix_);
    c.table_ = e.as_table();
    out.push_back(c);
  }
  return out;
}

bool Config::has(const std::string& key) const { return table_ && table_->get(key) != nullptr; }

namespace {
template <class F>
auto read(const Config& c, const toml::table* t, std::set<std::string>& used, const std::string& prefix,
          const std::string& key, bool have_default, F&& f) -> decltype(f(std::declval<const toml::node&>())) {
  used.insert(prefix.empty() ? key : prefix + "." + key);
  const toml::node* n = t ? t->get(key) : nullptr;
  if (!n) {
    if (!have_default) c.fail(key, "required key is missing");
    return {};
  }
  return f(*n);
}
}  // namespace

std::vector<std::string> Config::keys() const {
  std::vector<std::string> k;
  if (table_)
    for (const auto& [key, node] : *table_) k.emplace_back(key.str());
  return k;
}

std::string Config::get_text(const std::string& key) const {
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (n.is_string()) return std::string(*n.value<std::string>());
    if (n.is_integer()) return std::to_string(*n.value<int64_t>());
    if (n.is_boolean()) return std::string(*n.value<bool>() ? "true" : "false");
    if (!n.is_floating_point()) fail(key, "expected a string, number or boolean, got " + type_name(n));
    std::ostringstream os;
    os.precision(17);
    os << *n.value<double>();
    return os.str();
  });
}

std::string Config::get_string(const std::string& key, const std::optional<std::string>& def) const {
  if (!has(key) && def) { used_->insert(prefix_.empty() ? key : prefix_ + "." + key); return *def; }
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_string()) fail(key, "expected a string, got " + type_name(n));
    return std::string(*n.value<std::string>());
  });
}

double Config::get_double(const std::string& key, const std::optional<double>& def) const {
  if (!has(key) && def) { used_->insert(prefix_.empty() ? key : prefix_ + "." + key); return *def; }
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_number()) fail(key, "expected a number, got " + type_name(n));
    return *n.value<double>();
  });
}

int64_t Config::get_int(const std::string& key, const std::optional<int64_t>& def) const {
  if (!has(key) && def) { used_->insert(prefix_.empty() ? key : prefix_ + "." + key); return *def; }
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_integer()) fail(key, "expected an integer, got " + type_name(n));
    return *n.value<int64_t>();
  });
}

bool Config::get_bool(const std::string& key, const std::optional<bool>& def) const {
  if (!has(key) && def) { used_->insert(prefix_.empty() ? key : prefix_ + "." + key); return *def; }
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_boolean()) fail(key, "expected true or false, got " + type_name(n));
    return *n.value<bool>();
  });
}

std::vector<int64_t> Config::get_int_list(const std::string& key, const std::optional<std::vector<int64_t>>& def) const {
  if (!has(key) && def) { used_->insert(prefix_.empty() ? key : prefix_ + "." + key); return *def; }
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_array()) fail(key, "expected an array of integers, got " + type_name(n));
    std::vector<int64_t> v;
    for (const auto& e : *n.as_array()) {
      if (!e.is_integer()) fail(key, "expected an array of integers, found " + type_name(e) + " in it");
      v.push_back(*e.value<int64_t>());
    }
    return v;
  });
}

std::vector<double> Config::get_double_list(const std::string& key) const {
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_array()) fail(key, "expected an array of numbers, got " + type_name(n));
    std::vector<double> v;
    for (const auto& e : *n.as_array()) {
      if (!e.is_number()) fail(key, "expected an array of numbers, found " + type_name(e) + " in it");
      v.push_back(*e.value<double>());
    }
    return v;
  });
}

std::vector<std::string> Config::get_string_list(const std::string& key) const {
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_array()) fail(key, "expected an array of strings, got " + type_name(n));
    std::vector<std::string> v;
    for (const auto& e : *n.as_array()) {
      if (!e.is_string()) fail(key, "expected an array of strings, found " + type_name(e) + " in it");
      v.push_back(*e.value<std::string>());
    }
    return v;
  });
}

std::vector<std::vector<int64_t>> Config::get_int_list_list(const std::string& key) const {
  return read(*this, table_, *used_, prefix_, key, false, [&](const toml::node& n) {
    if (!n.is_array()) fail(key, "expected an array of integer arrays, got " + type_name(n));
    std::vector<std::vector<int64_t>> v;
    for (const auto& e : *n.as_array()) {
      if (!e.is_array()) fail(key, "expected an array of integer arrays, found " + type_name(e) + " in it");
      std::vector<int64_t> row;
      for (const auto& x : *e.as_array()) {
        if (!x.is_integer()) fail(key, "expected integers in the inner arrays, found " + type_name(x));
        row.push_back(*x.value<int64_t>());
      }
      v.push_back(row);
    }
    return v;
  });
}

std::string Config::get_choice(const std::string& key, const std::vector<std::string>& choices, const std::string& def) const {
  std::string v = get_string(key, def);
  for (const auto& c : choices)
    if (c == v) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  fail(key, "expected one of " + list + ", got '" + v + "'");
}

void Config::check_unused() const {
  std::vector<std::string> unknown;
  auto walk = [&](auto&& self, const toml::table& t, const std::string& pre) -> void {
    for (const auto& [k, n] : t) {
      const std::string full = pre.empty() ? std::string(k.str()) : pre + "." + std::string(k.str());
      if (!used_->count(full)) unknown.push_back(full);
      else if (n.is_table()) self(self, *n.as_table(), full);
      else if (n.is_array_of_tables()) {
        size_t i = 0;
        for (const auto& e : *n.as_array()) self(self, *e.as_table(), full + "[" + std::to_string(i++) + "]");
      }
    }
  };
  walk(walk, *root_, "");
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    throw ConfigError(path_ + ": unknown key" + (unknown.size() > 1 ? "s " : " ") + list +
                      " (see docs/train.md for the keys each table takes)");
  }
}

}  // namespace trusty::io
