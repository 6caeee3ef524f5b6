#include "weights/zip_writer.h"

#include <array>
#include <limits>

#include "tensor/error.h"

namespace sn {

namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void put_le(std::string& out, uint64_t v, int nbytes) {
  for (int i = 0; i < nbytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max() - 1;  // all ones means "see zip64"
constexpr uint16_t kVersion = 20;  // 2.0: what plain stored entries need

}  // namespace

uint32_t crc32(std::string_view bytes, uint32_t crc) {
  const auto& table = crc_table();
  crc = ~crc;
  for (unsigned char b : bytes) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void ZipWriter::add(const std::string& name, std::string_view bytes) {
  SN_CHECK(bytes.size() <= kMax32 && offset_ <= kMax32 && name.size() <= 0xFFFF,
           "zip: entry '", name, "' does not fit in a zip archive without zip64 (4 GiB)");
  const Written w{name, crc32(bytes), static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(offset_)};
  std::string header;
  put_le(header, 0x04034b50, 4);
  put_le(header, kVersion, 2);
  put_le(header, 0, 2);  // flags
  put_le(header, 0, 2);  // method: stored
  put_le(header, 0, 4);  // time and date: 1980-01-01, so the same data gives the same bytes
  put_le(header, w.crc, 4);
  put_le(header, w.size, 4);
  put_le(header, w.size, 4);
  put_le(header, name.size(), 2);
  put_le(header, 0, 2);  // extra field length
  header += name;
  sink_.write(header);
  sink_.write(bytes.data(), bytes.size());
  offset_ += header.size() + bytes.size();
  written_.push_back(w);
}

void ZipWriter::finish() {
  std::string dir;
  for (const auto& w : written_) {
    put_le(dir, 0x02014b50, 4);
    put_le(dir, kVersion, 2);  // made by
    put_le(dir, kVersion, 2);  // needed
    put_le(dir, 0, 2);
    put_le(dir, 0, 2);
    put_le(dir, 0, 4);
    put_le(dir, w.crc, 4);
    put_le(dir, w.size, 4);
    put_le(dir, w.size, 4);
    put_le(dir, w.name.size(), 2);
    put_le(dir, 0, 2);  // extra
    put_le(dir, 0, 2);  // comment
    put_le(dir, 0, 2);  // disk
    put_le(dir, 0, 2);  // internal attributes
    put_le(dir, 0, 4);  // external attributes
    put_le(dir, w.offset, 4);
    dir += w.name;
  }
  SN_CHECK(written_.size() < 0xFFFF && offset_ <= kMax32 && dir.size() <= kMax32,
           "zip: archive too large without zip64");
  const uint64_t directory_size = dir.size();
  put_le(dir, 0x06054b50, 4);
  put_le(dir, 0, 2);  // this disk
  put_le(dir, 0, 2);  // disk with the directory
  put_le(dir, written_.size(), 2);
  put_le(dir, written_.size(), 2);
  put_le(dir, directory_size, 4);
  put_le(dir, offset_, 4);  // the directory starts where the entries end
  put_le(dir, 0, 2);        // comment length
  sink_.write(dir);
  offset_ += dir.size();
}

}  // namespace sn
