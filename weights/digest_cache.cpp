#include "weights/digest_cache.h"

#include <sys/stat.h>

#include "tensor/env.h"
#include "tensor/error.h"
#include "weights/atomic_file.h"
#include "weights/sha256.h"

namespace sn {

namespace {

constexpr const char* kExtension = ".sha256";
constexpr size_t kMaxEntries = 64;  // file versions remembered; the oldest go

// The cache entry naming this version of `file`, or empty where there is none to name (no cache
// folder, or the file cannot be examined).
std::filesystem::path entry_for(const std::filesystem::path& file, const std::string& kind) {
  const std::filesystem::path dir = user_cache_dir();
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::canonical(file, ec);
  struct stat st {};
  if (dir.empty() || ec || ::stat(canonical.c_str(), &st) != 0) return {};
  const std::string identity = detail::cat(kind, '\n', canonical.string(), '\n', st.st_dev, ' ', st.st_ino, ' ',
                                           st.st_size, ' ', st.st_mtim.tv_sec, '.', st.st_mtim.tv_nsec);
  return dir / "digests" / (sha256_hex(identity) + kExtension);
}

bool is_hex_digest(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

FileDigest::FileDigest(std::filesystem::path file, std::string kind)
    : file_(std::move(file)), kind_(std::move(kind)) {
  try {
    entry_ = entry_for(file_, kind_);
  } catch (const std::exception&) {
  }
}

std::optional<std::string> FileDigest::remembered() const {
  try {
    if (entry_.empty() || !std::filesystem::is_regular_file(entry_)) return std::nullopt;
    const std::string digest = read_file(entry_);
    if (is_hex_digest(digest)) return digest;  // a damaged entry is ignored (and rewritten)
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

void FileDigest::remember(const std::string& digest) const {
  try {
    // Replaced or rewritten since: the digest may be of the new contents, not of that version.
    if (entry_.empty() || !is_hex_digest(digest) || entry_for(file_, kind_) != entry_) return;
    std::filesystem::create_directories(entry_.parent_path());
    write_file_atomic(entry_, digest);
    prune_oldest_files(entry_.parent_path(), kExtension, kMaxEntries);
  } catch (const std::exception&) {  // a read-only cache costs the next run the hashing only
  }
}

std::string remembered_file_sha256(const std::filesystem::path& file) {
  const FileDigest digest(file, "sha256 of the file");
  if (std::optional<std::string> known = digest.remembered()) return *known;
  const std::string hex = sha256_file_hex(file);
  digest.remember(hex);
  return hex;
}

}  // namespace sn
