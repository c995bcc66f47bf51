// A network's parameters and buffers as named .npz arrays ("param/0.weight",
// "buffer/1.running_mean"): model files and checkpoints share this layout.
#pragma once
#include <string>

#include "trusty/io/npy.hpp"
#include "trusty/nn/module.hpp"

namespace trusty::io {

template <class T>
void put_module(Npz& z, const nn::Module<T>& net);
// Reads every parameter and buffer back; throws naming `path` and the array on a missing
// array or a size that does not fit the network.
template <class T>
void get_module(const Npz& z, nn::Module<T>& net, const std::string& path);

}  // namespace trusty::io
