// NumPy .npy and .npz files: arrays a scientist opens with numpy.load. Writes are atomic
// (temporary file + rename). .npz reading handles stored and deflated members (savez and
// savez_compressed).
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "trusty/core/tensor.hpp"

namespace trusty::io {

struct NpyArray {
  std::string descr;            // "<f4", "<f8", "<i8", "<i4", "|u1"
  std::vector<int64_t> shape;
  std::vector<char> data;       // C order, little endian
  int64_t numel() const;
  template <class T> std::vector<T> values() const;  // converted from any numeric dtype

  template <class T> static NpyArray from(std::span<const T> v, std::vector<int64_t> shape);
  template <class T> static NpyArray from(const core::Tensor<T>& t);
  template <class T> core::Tensor<T> tensor() const;
};

std::vector<char> encode_npy(const NpyArray& a);
NpyArray decode_npy(std::span<const char> bytes, const std::string& what);

void write_npy(const std::string& path, const NpyArray& a);
NpyArray read_npy(const std::string& path);
// The array of a .npy file as a tensor without reading it: the file is memory-mapped
// (private, copy-on-write: writing to the tensor never changes the file) when its dtype is
// T's and its data starts 64-byte aligned, as write_npy writes it; otherwise it is read and
// converted like read_npy(path).tensor<T>(). The header is checked as read_npy checks it.
template <class T> core::Tensor<T> map_npy(const std::string& path);

using Npz = std::map<std::string, NpyArray>;
void write_npz(const std::string& path, const Npz& arrays);  // keys without ".npy"
Npz read_npz(const std::string& path);
// The archive held in `bytes`; `what` names it in messages (read_npz passes the path).
Npz decode_npz(std::span<const char> bytes, const std::string& what);

// A count a checkpoint stores as a double (a step, an iteration): a whole number in
// [lo, 1e15] is returned as an integer; anything else (NaN, a fraction, a negative or huge
// value, whose cast would be undefined) throws std::invalid_argument
// "<what> is <v>, expected a whole number >= <lo>".
int64_t stored_count(double v, int64_t lo, const std::string& what);

// Writes bytes to path atomically: path.tmp, fsync, rename.
void write_file_atomic(const std::string& path, std::span<const char> bytes);
std::vector<char> read_file(const std::string& path);

}  // namespace trusty::io
