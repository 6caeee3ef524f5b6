// SHA-256 (FIPS 180-4), for checking downloaded weights against their published digest and for
// naming a set of weights by its content. No library dependency: portable code, and the x86 SHA
// extensions where the CPU has them (4-5x faster; naming VGG16's 58 MB of features was a quarter of
// a cold `stylenet features`).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sn {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t nbytes);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // The digest of everything passed to update(); the object must not be used afterwards.
  std::array<uint8_t, 32> finish();
  // finish(), as 64 lowercase hex digits.
  std::string finish_hex();

 private:
  void compress(const uint8_t* blocks, size_t count);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Whether the SHA extensions are used (where the CPU has them); false forces the portable code
// (tests compare the two). Process-wide; returns the previous setting.
bool set_sha256_hardware(bool use);

std::string sha256_hex(std::string_view bytes);
// Streams the file (it is never held whole in memory); throws sn::Error naming the path.
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace sn
