#include "trusty/io/module_npz.hpp"

#include <stdexcept>

namespace trusty::io {

template <class T>
void put_module(Npz& z, const nn::Module<T>& net) {
  for (const auto& e : net.named_parameters())
    z["param/" + e.name] = NpyArray::from<T>(net.parameters().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())),
                                            e.shape.to_vector());
  for (const auto& e : net.named_buffers())
    z["buffer/" + e.name] = NpyArray::from<T>(net.buffers().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())),
                                             e.shape.to_vector());
}

template <class T>
void get_module(const Npz& z, nn::Module<T>& net, const std::string& path) {
  auto fill = [&](const std::string& key, const core::Shape& s, std::span<T> dst) {
    auto it = z.find(key);
    if (it == z.end()) throw std::invalid_argument(path + ": array '" + key + "' missing");
    if (it->second.numel() != s.numel())
      throw std::invalid_argument(path + ": '" + key + "' has " + std::to_string(it->second.numel()) + " values, the network expects shape " + s.str());
    auto v = it->second.template values<T>();
    std::copy(v.begin(), v.end(), dst.begin());
  };
  for (const auto& e : net.named_parameters())
    fill("param/" + e.name, e.shape, net.parameters().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())));
  for (const auto& e : net.named_buffers())
    fill("buffer/" + e.name, e.shape, net.buffers().subspan(static_cast<size_t>(e.offset), static_cast<size_t>(e.shape.numel())));
}

template void put_module<float>(Npz&, const nn::Module<float>&);
template void put_module<double>(Npz&, const nn::Module<double>&);
template void get_module<float>(const Npz&, nn::Module<float>&, const std::string&);
template void get_module<double>(const Npz&, nn::Module<double>&, const std::string&);

}  // namespace trusty::io
