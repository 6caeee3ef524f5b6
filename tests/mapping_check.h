// Whether memory is a file's own mapping (the weight loaders' tensors made without a copy,
// weights/mapped_file.h), from /proc/self/maps.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sn::test {

// True where p lies in a mapping of `file` (false where /proc cannot be read).
inline bool in_mapping_of(const void* p, const std::filesystem::path& file) {
  const std::string want = std::filesystem::canonical(file).string();
  const auto at = reinterpret_cast<uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    const size_t dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16), hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (path == want && at >= lo && at < hi) return true;
  }
  return false;
}

}  // namespace sn::test
