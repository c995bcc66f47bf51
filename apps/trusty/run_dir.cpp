#include "run_dir.hpp"

#include "trusty/io/module_npz.hpp"

namespace trusty::apps {

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string s = j.dump(2) + "\n";
  io::write_file_atomic(path, std::span<const char>(s.data(), s.size()));
}

template <class T>
void save_model(const std::string& path, nn::Module<T>& net) {
  io::Npz z;
  io::put_module(z, net);
  io::write_npz(path, z);
}

template <class T>
void load_model(const std::string& path, nn::Module<T>& net) {
  io::get_module(io::read_npz(path), net, path);
}

template void save_model<float>(const std::string&, nn::Module<float>&);
template void save_model<double>(const std::string&, nn::Module<double>&);
template void load_model<float>(const std::string&, nn::Module<float>&);
template void load_model<double>(const std::string&, nn::Module<double>&);

}  // namespace trusty::apps
