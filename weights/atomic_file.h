// Crash-safe file replacement.
//
// Bytes go to a temporary file next to the target (same directory, so same filesystem), which is
// fsync'ed and then renamed over the target. rename() is atomic on POSIX: readers, and a machine
// that loses power, see either the old file or the complete new one — never a torn file. On any
// error (including an exception thrown by the caller's writer) the temporary is removed, the old
// file is left untouched, and the error propagates.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace sn {

// Where serializers put their bytes, so one encoder can fill a file or a memory buffer.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const void* data, size_t nbytes) = 0;
  void write(std::string_view s) { write(s.data(), s.size()); }
};

class StringSink final : public ByteSink {
 public:
  using ByteSink::write;
  void write(const void* data, size_t nbytes) override {
    bytes.append(static_cast<const char*>(data), nbytes);
  }
  std::string bytes;
};

// Calls `fill` with a sink writing to "<path>.tmp.<pid>.<n>", then commits it as `path`.
// Throws sn::Error naming the path and the OS error.
void write_file_atomic(const std::filesystem::path& path, const std::function<void(ByteSink&)>& fill);
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// The whole file; throws sn::Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Deletes the oldest files of `dir` ending in `extension` past the newest `keep` (a bounded cache
// folder; best effort, never throws).
void prune_oldest_files(const std::filesystem::path& dir, const std::string& extension, size_t keep);

}  // namespace sn
