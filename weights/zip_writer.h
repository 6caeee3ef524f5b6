// Writes a zip archive of stored (uncompressed) entries — what NumPy's .npz is — to a ByteSink,
// so it can go through write_file_atomic. Entries and the archive are limited to 4 GiB (no zip64);
// larger ones are refused.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weights/atomic_file.h"

namespace sn {

class ZipWriter {
 public:
  explicit ZipWriter(ByteSink& sink) : sink_(sink) {}
  void add(const std::string& name, std::string_view bytes);
  // Writes the central directory; the archive is incomplete until this is called.
  void finish();

 private:
  struct Written {
    std::string name;
    uint32_t crc, size, offset;
  };
  ByteSink& sink_;
  std::vector<Written> written_;
  uint64_t offset_ = 0;
};

// CRC-32 (ISO 3309, as zip and PNG use), continuing from `crc` for data given in pieces.
uint32_t crc32(std::string_view bytes, uint32_t crc = 0);

}  // namespace sn
