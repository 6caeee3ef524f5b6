// A whole file mapped into memory, so a large weight file is parsed in place: nothing is read
// twice, and pages that are never touched (a classifier that was not asked for) are never read at
// all.
//
// The loaders (weights/pth.h, weights/safetensors.h) make float32/float64 tensors whose data lies
// aligned in the file out of the mapping itself (Tensor::wrap, sharing ownership of it): no copy
// and no fresh memory, the pages come from the page cache as the kernels first read them (a cold
// `features` spent a third of its time copying 59 MB of weights into freshly faulted memory). The
// mapping is private and writable: a tensor written in place (an optimizer step, a conversion)
// gets its own copy of the pages it writes, and the file never changes.
//
// Pages a loader has finished copying from can be handed back with release(): the mapping stays
// valid (a later access reads them again from the file), but they stop counting towards the
// process's resident memory, so converting a file holds one copy of its data, not two.
//
// The file must not be truncated by someone else while mapped (the kernel would raise SIGBUS on
// access past the new end); StyleNet writes weight files to a temporary name and renames it over
// the old one, which leaves a mapped file as it was.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "tensor/tensor.h"

namespace sn {

class MappedFile {
 public:
  // Throws sn::Error naming the path when the file cannot be opened, is not a regular file, or
  // cannot be mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  // Drops the resident pages that lie wholly inside [offset, offset + nbytes); a hint, never fails.
  void release(size_t offset, size_t nbytes) const;

 private:
  std::filesystem::path path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// The contiguous tensor of `shape` and float32/float64 `dtype` that is the file's bytes at `data`
// (inside `file`'s mapping) themselves, sharing the mapping; undefined where those bytes are not
// aligned for the dtype or there are none: the loader copies them then.
Tensor mapped_tensor(const std::shared_ptr<const MappedFile>& file, const char* data, const Shape& shape, DType dtype);

}  // namespace sn
