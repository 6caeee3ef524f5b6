// A reader for the zip archives that torch.save writes (and NumPy's .npz): only "stored"
// (uncompressed) entries, which can be used in place without copying, with zip64 for archives
// and entries past 4 GiB.
//
// It reads the central directory at the end of the archive and checks each entry against its
// local header. The archive is treated as hostile: every offset and size is checked against the
// archive's length, and compressed or encrypted entries, names that climb out of the archive
// ("../", absolute paths), duplicate names and split archives are refused with an sn::Error that
// names the source.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sn {

class ZipReader {
 public:
  struct Entry {
    std::string name;
    uint64_t data_offset;  // of the entry's bytes, from the start of the archive
    uint64_t size;
  };

  // `archive` must outlive the reader; `source` names it in error messages.
  ZipReader(std::string_view archive, std::string source);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view name) const;  // nullptr when absent
  std::string_view data(const Entry& entry) const { return archive_.substr(entry.data_offset, entry.size); }
  const std::string& source() const { return source_; }

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void read_central_directory(uint64_t offset, uint64_t size, uint64_t count);
  uint64_t locate_data(const std::string& name, uint64_t local_offset, uint64_t size) const;

  std::string_view archive_;
  std::string source_;
  std::vector<Entry> entries_;
};

// True when the bytes start like a zip archive (a local file header).
bool looks_like_zip(std::string_view bytes);

}  // namespace sn
