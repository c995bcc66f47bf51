#include "run_dir.hpp"

#include "trusty/core/machine.hpp"
#include "trusty/io/module_npz.hpp"

#include <stdexcept>

namespace trusty::apps {

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string s = j.dump(2) + "\n";
  io::write_file_atomic(path, std::span<const char>(s.data(), s.size()));
}

void write_results(const std::string& dir, nlohmann::json j) {
  j["machine"] = core::short_json(core::machine_info());
  write_json(dir + "/results.json", j);
}

namespace {
// model.npz format: 1 = param/<name> and buffer/<name> arrays (each member CRC-32 checked
// on reading). Files without the key predate it and read as version 1.
constexpr int64_t kModelFormat = 1;
}  // namespace

template <class T>
void save_model(const std::string& path, nn::Module<T>& net) {
  io::Npz z;
  io::put_module(z, net);
  z["format_version"] = io::NpyArray::from<int64_t>(std::vector<int64_t>{kModelFormat}, {1});
  io::write_npz(path, z);
}

template <class T>
void load_model(const std::string& path, nn::Module<T>& net) {
  const auto z = io::read_npz(path);
  if (auto it = z.find("format_version"); it != z.end()) {
    const auto v = it->second.values<int64_t>();
    if (v.size() != 1 || v[0] != kModelFormat)
      throw std::invalid_argument(path + ": format_version " + (v.size() == 1 ? std::to_string(v[0]) : "(" + std::to_string(v.size()) + " values)") +
                                  ", expected " + std::to_string(kModelFormat) + " (written by a different trusty version)");
  }
  io::get_module(z, net, path);
}

template void save_model<float>(const std::string&, nn::Module<float>&);
template void save_model<double>(const std::string&, nn::Module<double>&);
template void load_model<float>(const std::string&, nn::Module<float>&);
template void load_model<double>(const std::string&, nn::Module<double>&);

}  // namespace trusty::apps
