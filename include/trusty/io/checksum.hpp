// Checksums for files trusty reads from elsewhere: SHA-512 (what npm publishes as a
// package's "integrity") and the base64 form npm writes it in.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace trusty::io {

std::array<uint8_t, 64> sha512(std::span<const char> bytes);
std::string base64(std::span<const uint8_t> bytes);
// "sha512-<base64>", as in npm's dist.integrity.
std::string npm_integrity(std::span<const char> bytes);

}  // namespace trusty::io
