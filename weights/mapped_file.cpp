#include "weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "tensor/error.h"

namespace sn {

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SN_CHECK(fd >= 0, "cannot open '", path.string(), "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(detail::cat("'", path.string(), "' is not a regular file"));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {  // mmap refuses length 0; an empty file is simply an empty view
    // Private and writable: tensors made from the mapping may be written in place (copy on write).
    data_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    if (data_ == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(detail::cat("cannot map '", path.string(), "': ", std::strerror(err)));
    }
  }
  ::close(fd);  // the mapping keeps the file open
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

void MappedFile::release(size_t offset, size_t nbytes) const {
  if (!data_ || offset >= size_) return;
  nbytes = std::min(nbytes, size_ - offset);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages: a partly copied page may still be needed by the neighbouring tensor.
  const size_t begin = (offset + page - 1) / page * page, end = (offset + nbytes) / page * page;
  if (end > begin) ::madvise(static_cast<char*>(data_) + begin, end - begin, MADV_DONTNEED);
}

Tensor mapped_tensor(const std::shared_ptr<const MappedFile>& file, const char* data, const Shape& shape, DType dtype) {
  if (numel(shape) == 0 || reinterpret_cast<uintptr_t>(data) % dtype_size(dtype) != 0) return Tensor();
  // The mapping is writable (private): the tensor may be written in place.
  return Tensor::wrap(const_cast<char*>(data), shape, dtype, file);
}

}  // namespace sn
