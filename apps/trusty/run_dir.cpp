#include "run_dir.hpp"

#include "trusty/io/npy.hpp"

namespace trusty::apps {

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string s = j.dump(2) + "\n";
  io::write_file_atomic(path, std::span<const char>(s.data(), s.size()));
}

template <class T>
void save_model(const std::string& path, nn::Module<T>& net) {
  io::Npz z;
  for (const auto& e : net.named_parameters())
    z["param/" + e.name] = io::NpyArray::from<T>(net.parameters().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())), e.shape.to_vector());
  for (const auto& e : net.named_buffers())
    z["buffer/" + e.name] = io::NpyArray::from<T>(net.buffers().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())), e.shape.to_vector());
  io::write_npz(path, z);
}

template <class T>
void load_model(const std::string& path, nn::Module<T>& net) {
  auto z = io::read_npz(path);
  auto fill = [&](const std::string& key, const core::Shape& s, std::span<T> dst) {
    auto it = z.find(key);
    if (it == z.end()) throw std::invalid_argument(path + ": array '" + key + "' missing");
    if (it->second.numel() != s.numel())
      throw std::invalid_argument(path + ": '" + key + "' has " + std::to_string(it->second.numel()) + " values, the model expects shape " + s.str());
    auto v = it->second.template values<T>();
    std::copy(v.begin(), v.end(), dst.begin());
  };
  for (const auto& e : net.named_parameters())
    fill("param/" + e.name, e.shape, net.parameters().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())));
  for (const auto& e : net.named_buffers())
    fill("buffer/" + e.name, e.shape, net.buffers().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())));
}

template void save_model<float>(const std::string&, nn::Module<float>&);
template void save_model<double>(const std::string&, nn::Module<double>&);
template void load_model<float>(const std::string&, nn::Module<float>&);
template void load_model<double>(const std::string&, nn::Module<double>&);

}  // namespace trusty::apps
