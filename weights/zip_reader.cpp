#include "weights/zip_reader.h"

#include <set>

#include "tensor/error.h"
#include "weights/binary_util.h"

namespace sn {

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEndOfDirectory = 0x06054b50,
                   kZip64Locator = 0x07064b50, kZip64EndOfDirectory = 0x06064b50;
constexpr size_t kLocalHeaderSize = 30, kCentralHeaderSize = 46, kEndSize = 22, kZip64LocatorSize = 20,
                 kZip64EndSize = 56;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kSaturated32 = 0xFFFFFFFF;
constexpr uint16_t kSaturated16 = 0xFFFF;

// A name that stays inside the archive when extracted: relative, no ".." component, no
// backslashes or NULs (which some tools treat as separators or terminators).
bool safe_entry_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return false;
  size_t begin = 0;
  while (begin <= name.size()) {
    const size_t end = std::min(name.find('/', begin), name.size());
    if (name.substr(begin, end - begin) == "..") return false;
    begin = end + 1;
  }
  return true;
}

}  // namespace

bool looks_like_zip(std::string_view bytes) {
  return bytes.size() >= 4 && read_le(bytes, 0, 4) == kLocalHeader;
}

void ZipReader::fail(const std::string& what) const {
  throw Error(detail::cat(source_, ": not a valid zip archive: ", what));
}

ZipReader::ZipReader(std::string_view archive, std::string source)
    : archive_(archive), source_(std::move(source)) {
  const uint64_t n = archive_.size();
  if (n < kEndSize) fail("too short to hold an end-of-central-directory record");
  // The end record sits at the very end unless a comment (at most 65535 bytes) follows it.
  uint64_t end = n - kEndSize;
  const uint64_t lowest = n >= kEndSize + 0xFFFF ? n - kEndSize - 0xFFFF : 0;
  while (read_le(archive_, end, 4) != kEndOfDirectory ||
         end + kEndSize + read_le(archive_, end + 20, 2) != n) {
    if (end == lowest) fail("no end-of-central-directory record (truncated file?)");
    --end;
  }
  if (read_le(archive_, end + 4, 2) != 0 || read_le(archive_, end + 6, 2) != 0)
    fail("split (multi-disk) archives are not supported");
  uint64_t count = read_le(archive_, end + 10, 2);
  uint64_t cd_size = read_le(archive_, end + 12, 4);
  uint64_t cd_offset = read_le(archive_, end + 16, 4);

  // Zip64: the real values live in a second record that a locator just before this one points to.
  if (count == kSaturated16 || cd_size == kSaturated32 || cd_offset == kSaturated32) {
    if (end < kZip64LocatorSize || read_le(archive_, end - kZip64LocatorSize, 4) != kZip64Locator)
      fail("zip64 end-of-central-directory locator missing");
    const uint64_t record = read_le(archive_, end - kZip64LocatorSize + 8, 8);
    if (record > end - kZip64LocatorSize || end - kZip64LocatorSize - record < kZip64EndSize ||
        read_le(archive_, record, 4) != kZip64EndOfDirectory)
      fail("zip64 end-of-central-directory record missing or out of range");
    if (read_le(archive_, record + 16, 4) != 0 || read_le(archive_, record + 20, 4) != 0)
      fail("split (multi-disk) archives are not supported");
    count = read_le(archive_, record + 32, 8);
    cd_size = read_le(archive_, record + 40, 8);
    cd_offset = read_le(archive_, record + 48, 8);
  }
  if (cd_offset > end || cd_size > end - cd_offset) fail("central directory lies outside the file");
  // Every entry takes at least a fixed-size header, so the count is bounded by the file itself.
  if (count > cd_size / kCentralHeaderSize) fail("central directory claims more entries than fit in it");
  read_central_directory(cd_offset, cd_size, count);
}

void ZipReader::read_central_directory(uint64_t offset, uint64_t size, uint64_t count) {
  const uint64_t stop = offset + size;
  std::set<std::string, std::less<>> seen;
  entries_.reserve(count);
  uint64_t pos = offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (stop - pos < kCentralHeaderSize || read_le(archive_, pos, 4) != kCentralHeader)
      fail(detail::cat("central directory entry ", i, " is damaged"));
    const uint64_t flags = read_le(archive_, pos + 8, 2), method = read_le(archive_, pos + 10, 2);
    uint64_t compressed = read_le(archive_, pos + 20, 4), unpacked = read_le(archive_, pos + 24, 4);
    const uint64_t name_len = read_le(archive_, pos + 28, 2), extra_len = read_le(archive_, pos + 30, 2),
                   comment_len = read_le(archive_, pos + 32, 2);
    uint64_t local = read_le(archive_, pos + 42, 4);
    if (stop - pos - kCentralHeaderSize < name_len + extra_len + comment_len)
      fail(detail::cat("central directory entry ", i, " runs past the directory"));
    std::string name(archive_.substr(pos + kCentralHeaderSize, name_len));
    if (!safe_entry_name(name)) fail("entry name '" + name + "' points outside the archive");
    if (!seen.insert(name).second) fail("entry '" + name + "' appears twice");
    if (flags & 1) fail("entry '" + name + "' is encrypted");
    if (method != 0)
      fail(detail::cat("entry '", name, "' is compressed (method ", method,
                       "); only stored entries are read, as torch.save and numpy.savez write them"));

    // Zip64 extra field: 64-bit values for exactly the fields saturated above, in this order.
    std::string_view extra = archive_.substr(pos + kCentralHeaderSize + name_len, extra_len);
    while (extra.size() >= 4) {
      const uint64_t id = read_le(extra, 0, 2), len = read_le(extra, 2, 2);
      if (len > extra.size() - 4) fail("entry '" + name + "' has a damaged extra field");
      if (id == kZip64ExtraId) {
        std::string_view z = extra.substr(4, len);
        size_t at = 0;
        for (uint64_t* field : {&unpacked, &compressed, &local}) {
          if (*field != kSaturated32) continue;
          if (z.size() - at < 8) fail("entry '" + name + "' has a short zip64 field");
          *field = read_le(z, at, 8);
          at += 8;
        }
      }
      extra.remove_prefix(4 + len);
    }
    if (compressed != unpacked) fail("stored entry '" + name + "' has different packed and unpacked sizes");
    entries_.push_back({name, locate_data(name, local, unpacked), unpacked});
    pos += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

// The local header before each entry's data repeats its name and has its own extra field, whose
// length (torch pads it to align the data to 64 bytes) decides where the data starts.
uint64_t ZipReader::locate_data(const std::string& name, uint64_t local, uint64_t size) const {
  const uint64_t n = archive_.size();
  if (local > n || n - local < kLocalHeaderSize || read_le(archive_, local, 4) != kLocalHeader)
    fail("entry '" + name + "' has no local header where the directory says");
  const uint64_t name_len = read_le(archive_, local + 26, 2), extra_len = read_le(archive_, local + 28, 2);
  const uint64_t data = local + kLocalHeaderSize + name_len + extra_len;
  if (data > n || archive_.substr(local + kLocalHeaderSize, name_len) != name)
    fail("entry '" + name + "' has a local header that does not match the directory");
  if (size > n - data) fail(detail::cat("entry '", name, "' (", size, " bytes) runs past the end of the file"));
  return data;
}

const ZipReader::Entry* ZipReader::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace sn
