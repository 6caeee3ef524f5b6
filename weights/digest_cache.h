// Digests of files remembered between runs, so a large file is hashed once, not on every run.
//
// A real VGG16 is named by the SHA-256 of its 59 MB of features weights (vision/vgg16.h), which a
// model file's encoder is checked against: hashing them read every page of the weights (most of
// which a `stylize` never uses otherwise) on every run. The style cache names its entries by the
// digests of the model file and of the program, which were hashed on every `stylize` too. A digest
// is kept under the user's cache folder, keyed by what it is of (`kind`) and by the file's identity
// as the file system reports it (canonical path, device, inode, size, modification time in
// nanoseconds): a file written anew, by a rename over it or in place, no longer matches. Nothing
// is kept where there is no cache folder or it cannot be written: the next run hashes again.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace sn {

// The digest of one version of a file: the version as it is when constructed.
class FileDigest {
 public:
  FileDigest(std::filesystem::path file, std::string kind);
  // The digest remembered for that version, if any (never throws).
  std::optional<std::string> remembered() const;
  // Remembers `digest` (computed from the file's contents read after construction) if the file is
  // still that version (never throws; best effort).
  void remember(const std::string& digest) const;

 private:
  std::filesystem::path file_, entry_;  // entry_ empty: nothing to remember under
  std::string kind_;
};

// sha256_file_hex(file) (weights/sha256.h), hashed once per version of the file. Throws as it does.
std::string remembered_file_sha256(const std::filesystem::path& file);

}  // namespace sn
