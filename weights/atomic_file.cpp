#include "weights/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "tensor/error.h"

namespace sn {

namespace {

std::string os_error(const std::string& what, const std::filesystem::path& path) {
  return detail::cat(what, " '", path.string(), "': ", std::strerror(errno));
}

// Buffers writes into ~1 MiB chunks so serializers can emit many small pieces cheaply. A piece
// that would overflow the buffer goes straight to the file after it, so writing a 400 MB tensor
// never holds a second copy of it.
class FdSink final : public ByteSink {
 public:
  static constexpr size_t kChunk = 1u << 20;
  FdSink(int fd, const std::filesystem::path& path) : fd_(fd), path_(path) {}
  using ByteSink::write;
  void write(const void* data, size_t nbytes) override {
    if (buffer_.size() + nbytes < kChunk) {
      buffer_.append(static_cast<const char*>(data), nbytes);
      return;
    }
    flush();
    write_all(static_cast<const char*>(data), nbytes);
  }
  void flush() {
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

 private:
  void write_all(const char* p, size_t left) {
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(os_error("write_file_atomic: cannot write", path_));
      p += n;
      left -= static_cast<size_t>(n);
    }
  }

  int fd_;
  std::filesystem::path path_;
  std::string buffer_;
};

// Makes the rename itself durable: the directory entry lives in the directory's own data.
void fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, const std::function<void(ByteSink&)>& fill) {
  // pid keeps processes apart; the counter keeps threads of one process apart.
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += detail::cat(".tmp.", ::getpid(), ".", counter++);

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw Error(os_error("write_file_atomic: cannot create", tmp));
  bool fd_open = true;
  try {
    FdSink sink(fd, tmp);
    fill(sink);
    sink.flush();
    if (::fsync(fd) != 0) throw Error(os_error("write_file_atomic: cannot fsync", tmp));
    fd_open = false;  // close() releases the descriptor even when it reports an error
    if (::close(fd) != 0) throw Error(os_error("write_file_atomic: cannot close", tmp));
  } catch (...) {
    if (fd_open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = os_error("write_file_atomic: cannot rename the temporary file onto", path);
    ::unlink(tmp.c_str());
    throw Error(msg);
  }
  fsync_directory(path.parent_path());
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomic(path, [&](ByteSink& sink) { sink.write(bytes); });
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(os_error("cannot open", path));
  const std::streamoff size = in.tellg();
  SN_CHECK(size >= 0, "cannot determine the size of '", path.string(), "'");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  SN_CHECK(in.gcount() == size, "error while reading '", path.string(), "'");
  return bytes;
}

void prune_oldest_files(const std::filesystem::path& dir, const std::string& extension, size_t keep) {
  std::error_code ec;
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == extension) files.emplace_back(e.last_write_time(ec), e.path());
  if (files.size() <= keep) return;
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + keep < files.size(); ++i) std::filesystem::remove(files[i].second, ec);
}

}  // namespace sn
